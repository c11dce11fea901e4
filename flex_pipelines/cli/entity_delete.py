"""``flexpipe delete asset|sensor`` (issue 17): what goes with it is counted and confirmed
(``--yes`` skips the question), and stored configuration that still names a deleted sensor
(other assets' flex-models, flex-contexts and reports, other sensors' forecast regressors) is
listed, since it would dangle."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

import typer

from flex_pipelines.beliefs import Asset, BeliefStore, Sensor
from flex_pipelines.beliefs.audit import acting_as, cli_actor
from flex_pipelines.cli.common import (
    DbOption,
    FormatOption,
    WaitOption,
    default_db,
    dumps,
    emit_records,
    err_console,
    require_format,
)
from flex_pipelines.cli.entity_show import open_existing, wait_s
from flex_pipelines.errors import FlexPipelinesError

DB_DEFAULT = default_db()


def references_to(
    store: BeliefStore, sensor_ids: set[int], skip_assets: Collection[int] = ()
) -> list[str]:
    """Where stored configuration names these sensors: flex-models, flex-contexts and reports
    of other assets, forecast regressors of other sensors (what a deletion leaves dangling)."""
    from flex_pipelines.scheduling.references import flex_references, json_references

    found = []
    for a in store.list_assets():
        if a.id in skip_assets:
            continue
        try:
            refs = flex_references([a.flex_model] if a.flex_model else [], a.flex_context)
            refs += json_references(a.attributes.get("reports"), "attributes.reports")
        except FlexPipelinesError:
            continue  # a malformed stored config is not this command's business
        fields = sorted({r.field for r in refs if r.sensor_id in sensor_ids})
        if fields:
            found.append(f"asset {a.id} ({a.name}): {', '.join(fields)}")
    for s in store.list_sensors():
        cfg = s.attributes.get("forecast")
        regs = cfg.get("regressors") if isinstance(cfg, dict) else None
        if s.id not in sensor_ids and isinstance(regs, list) and set(regs) & sensor_ids:
            found.append(f"sensor {s.id} ({s.name}): forecast regressors")
    return found


def _subtree(store: BeliefStore, root: int) -> list[Asset]:
    children: dict[int | None, list[Asset]] = {}
    for a in store.list_assets():
        children.setdefault(a.parent_id, []).append(a)
    out, todo = [], [store.get_asset(root)]
    while todo:
        a = todo.pop()
        out.append(a)
        todo += children.get(a.id, [])
    return out


def _confirm_delete(what: str, dangling: list[str], yes: bool) -> None:
    if dangling:
        err_console.print("[yellow]Warning:[/] still named in stored configuration:")
        for line in dangling:
            err_console.print(f"  {line}")
    if not yes:
        typer.confirm(f"Delete {what}?", abort=True)


def register_delete(delete_app: typer.Typer) -> None:
    """Add ``delete asset`` and ``delete sensor``."""

    @delete_app.command("asset")
    def delete_asset(
        asset_id: Annotated[int, typer.Option("--id")],
        yes: Annotated[
            bool, typer.Option("--yes", "--force", help="Do not ask for confirmation.")
        ] = False,
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Delete an asset with the assets below it, their sensors, beliefs and annotations."""
        require_format(fmt)
        with open_existing(db, wait_s(wait)) as store, acting_as(cli_actor()):
            tree = _subtree(store, asset_id)
            sensors = [s for a in tree for s in store.list_sensors(asset_id=a.id)]
            ids = {s.id for s in sensors}
            n = store.count_beliefs(sorted(ids)) if ids else 0
            root = tree[0]
            gone = {
                "asset": root.id,
                "name": root.name,
                "assets": len(tree),
                "sensors": len(sensors),
                "beliefs": n,
                "dangling_references": references_to(store, ids, {a.id for a in tree}),
            }
            _confirm_delete(
                f"asset {root.name!r} (id {root.id}) with {len(tree) - 1} asset(s) below it, "
                f"{len(sensors)} sensor(s) and {n} belief(s)",
                gone["dangling_references"],
                yes,
            )
            store.delete_asset(root.id)
        _deleted(gone, fmt, f"Deleted asset {root.name!r} (id {root.id}).")

    @delete_app.command("sensor")
    def delete_sensor(
        sensor_id: Annotated[int, typer.Option("--id")],
        yes: Annotated[
            bool, typer.Option("--yes", "--force", help="Do not ask for confirmation.")
        ] = False,
        db: DbOption = DB_DEFAULT,
        fmt: FormatOption = "table",
        wait: WaitOption = None,
    ) -> None:
        """Delete a sensor with its beliefs and annotations."""
        require_format(fmt)
        with open_existing(db, wait_s(wait)) as store, acting_as(cli_actor()):
            sensor: Sensor = store.get_sensor(sensor_id)
            n = store.count_beliefs(sensor.id)
            gone = {
                "sensor": sensor.id,
                "name": sensor.name,
                "beliefs": n,
                "dangling_references": references_to(store, {sensor.id}),
            }
            _confirm_delete(
                f"sensor {sensor.name!r} (id {sensor.id}) and its {n} belief(s)",
                gone["dangling_references"],
                yes,
            )
            store.delete_sensor(sensor.id)
        _deleted(gone, fmt, f"Deleted sensor {sensor.name!r} (id {sensor.id}).")


def _deleted(summary: dict[str, Any], fmt: str, headline: str) -> None:
    if fmt == "json":
        typer.echo(dumps(summary))
        return
    typer.echo(headline)
    emit_records([{k: v for k, v in summary.items() if k != "dangling_references"}], fmt)
