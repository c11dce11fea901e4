"""``flexpipe demo --sites N``: a synthetic fleet of N sites built from the demo's real series,
scheduled as one batch for its first day, with throughput and the read/solve/save split."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from flex_pipelines.beliefs import open_store
from flex_pipelines.cli.common import console

CHUNK = 500  # sites per batch: bounds memory, shows progress


def run_fleet_demo(db: str, n_sites: int) -> dict[str, Any]:
    """Build ``n_sites`` sites in ``db`` and schedule their first day in batches; returns the
    numbers it printed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from flex_pipelines.demo import TZ
    from flex_pipelines.fleet import build_fleet
    from flex_pipelines.service import LOCAL_ADMIN
    from flex_pipelines.service.batch import schedule_sites
    from flex_pipelines.sites import AssetTree
    from flex_pipelines.time import day_window

    console.rule(f"[bold]FlexPipelines fleet demo: {n_sites} sites[/]")
    t0 = time.perf_counter()
    with open_store(db) as store:
        fleet = build_fleet(store, n_sites)
        built = time.perf_counter() - t0
        console.print(f"Built {n_sites} sites (battery, PV, load each) in {built:.1f} s in {db}.")
        start, end = day_window(fleet.days[0], TZ)
        tree = AssetTree.load(store)
        totals = {"read_s": 0.0, "solve_s": 0.0, "save_s": 0.0}
        done, failed, n_new, cost = 0, [], 0, 0.0
        t1 = time.perf_counter()
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("scheduling", total=n_sites)
            for i in range(0, n_sites, CHUNK):
                ids = fleet.site_ids[i : i + CHUNK]
                rec = schedule_sites(LOCAL_ADMIN, store, ids, start, end, as_of=start, tree=tree)
                for k in totals:
                    totals[k] += rec.timings[k]
                done += len(rec.records)
                failed += rec.failures
                n_new += rec.n_new
                cost += rec.cost_eur
                bar.advance(task, len(ids))
        wall = time.perf_counter() - t1
    table = Table(title=f"Day-ahead schedules for {fleet.days[0]} (96 quarter hours)")
    for col in (
        "sites",
        "failed",
        "beliefs saved",
        "wall s",
        "sites/s",
        "read s",
        "solve s",
        "save s",
        "cost EUR",
    ):  # noqa: E501
        table.add_column(col, justify="right")
    rate = done / wall if wall else 0.0
    table.add_row(
        str(done),
        str(len(failed)),
        f"{n_new:,}",
        f"{wall:.1f}",
        f"{rate:.0f}",
        f"{totals['read_s']:.1f}",
        f"{totals['solve_s']:.1f}",
        f"{totals['save_s']:.1f}",
        f"{cost:,.0f}",
    )
    console.print(table)
    for f in failed[:5]:
        console.print(f"[yellow]failed[/] site {f.site_id}: {f.reason}")
    return {"sites": done, "failed": len(failed), "n_new": n_new, "wall_s": wall, **totals}
