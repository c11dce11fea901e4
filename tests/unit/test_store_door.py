"""The store's door (issue 14), on a real DuckDB file and a real PostgreSQL schema: what a
refused file leaves behind (nothing: every table's row count is unchanged, no new source),
non-finite values and out-of-range times, headerless and UTF-16 files, and reading errors in
our words."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flex_pipelines.beliefs import open_store
from flex_pipelines.beliefs.validate import BeliefValidationError
from flex_pipelines.cli.main import app
from tests.helpers import belief_frame

runner = CliRunner()
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOURS = [f"2026-01-01T{h:02d}:00:00+00:00" for h in range(24)]


def _csv(rows: list[str], header: str | None = "event_start,value") -> str:
    return "\n".join(([header] if header else []) + rows) + "\n"


def _table_counts(url: str) -> dict[str, int]:
    with open_store(url) as store:
        names = store.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )["table_name"].to_list()
        return {n: int(store.query(f'SELECT count(*) AS n FROM "{n}"')["n"][0]) for n in names}


@pytest.fixture
def price(store_url: str) -> int:
    """A store with an hourly price sensor and a day of prices from source 'market'."""
    with open_store(store_url) as store:
        sensor = store.add_sensor("price", "EUR/MWh", timedelta(hours=1))
        src = store.get_or_create_source("market", "market")
        store.save_beliefs(
            belief_frame(sensor.id, src.id, list(range(24)), T0, timedelta(hours=1), T0)
        )
        return sensor.id


def _add(url: str, path: Path, sensor: int, *extra: str):
    return runner.invoke(
        app,
        ["add", "beliefs", str(path), "--sensor", str(sensor), "--db", url, *extra],
        catch_exceptions=True,
    )


def _message(result) -> str:
    return f"{result.output}{result.exception or ''}"


REFUSED = [
    pytest.param(
        _csv([f"{HOURS[0]},1", f"{HOURS[1]},inf"]),
        [],
        ["value 'inf' at 2026-01-01 01:00:00+00:00 (row 2, column 'value')", "not a finite"],
        id="inf",
    ),
    pytest.param(
        _csv([f"{HOURS[0]},-inf"]), [], ["value '-inf' at 2026-01-01 00:00:00", "finite"], id="-inf"
    ),
    pytest.param(_csv([f"{HOURS[0]},1e309"]), [], ["value '1e309'", "not a finite"], id="1e309"),
    pytest.param(
        _csv([f"{HOURS[0]},1e307"]),
        ["--unit", "EUR/kWh"],
        ["value '1e307'", "not a finite number in EUR/MWh"],
        id="overflow-after-conversion",
    ),
    pytest.param(
        _csv(["9999-12-31T23:00:00+00:00,1"]),
        [],
        ["'9999-12-31T23:00:00+00:00' (row 1) is outside the supported range 1900-01-01"],
        id="year-9999",
    ),
    pytest.param(
        _csv([f"{HOURS[0]},1", f"{HOURS[1]},2,7", f"{HOURS[2]},3"]),
        [],
        ["row 2 (line 3) has 3 fields, the header 2"],
        id="ragged",
    ),
    pytest.param(
        _csv([f"{HOURS[0]};1"], "event_start;value"),
        [],
        ["has 1 column(s)", "separated by ';': give that delimiter (--delimiter)"],
        id="semicolons",
    ),
    pytest.param(
        _csv(["2026-03-29T02:30:00,1"]),
        ["--timezone", "Europe/Amsterdam"],
        ["'2026-03-29T02:30:00' (row 1) does not exist: the clocks skip it", "Europe/Amsterdam"],
        id="dst-gap",
    ),
    pytest.param(
        _csv(["2026-10-25T02:30:00,1"]),
        ["--timezone", "Europe/Amsterdam"],
        ["'2026-10-25T02:30:00' (row 1) is ambiguous", "+02:00 or +01:00"],
        id="dst-fold",
    ),
    pytest.param(
        _csv([f"{HOURS[0]},1"]),
        ["--off-tick", "banana"],
        ["off-tick 'banana' is not one of reject, floor"],
        id="off-tick-banana",
    ),
]


@pytest.mark.parametrize(("content", "extra", "fragments"), REFUSED)
def test_a_refused_file_leaves_every_table_as_it_was(
    store_url: str, price: int, tmp_path: Path, content: str, extra: list[str], fragments: list[str]
) -> None:
    """Refused under a new source name: the message names value, time and row; no table
    changes, not even sources."""
    path = tmp_path / "bad.csv"
    path.write_text(content)
    before = _table_counts(store_url)
    result = _add(store_url, path, price, "--source", "a new source", *extra)
    assert result.exit_code != 0
    for fragment in fragments:
        assert fragment in _message(result), _message(result)
    assert not isinstance(result.exception, OverflowError | UnicodeError)
    assert _table_counts(store_url) == before


def test_a_conflicting_file_under_a_new_source_name_is_refused_whole(
    store_url: str, price: int, tmp_path: Path
) -> None:
    """Two rows about one event with different values: refused, and the new source is gone."""
    path = tmp_path / "twice.csv"
    path.write_text(_csv([f"{HOURS[0]},1", f"{HOURS[0]},2"]))
    before = _table_counts(store_url)
    result = _add(store_url, path, price, "--source", "brand new")
    assert result.exit_code != 0 and "appears twice with different values" in _message(result)
    assert _table_counts(store_url) == before


def test_a_file_without_header_loses_no_row(store_url: str, price: int, tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text(_csv([f"{h},{i + 100}" for i, h in enumerate(HOURS)], header=None))
    result = _add(store_url, path, price, "--source", "headless", "--format", "json")
    assert result.exit_code == 0, _message(result)
    assert '"new": 24' in result.output
    assert "is data, not a header" in result.output  # the warning (stderr is mixed in)
    with open_store(store_url) as store:
        src = store.get_source("headless").id
        assert store.count_beliefs(price) == 48
        got = store.search_beliefs(price, source_ids=[src])["event_value"].to_list()
        assert got == [float(i + 100) for i in range(24)]


def test_utf16_with_byte_order_mark_is_read(store_url: str, price: int, tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes(_csv([f"{HOURS[0]},5", f"{HOURS[1]},6"]).encode("utf-16"))
    assert path.read_bytes().startswith(codecs.BOM_UTF16_LE)
    result = _add(store_url, path, price, "--source", "utf16")
    assert result.exit_code == 0, _message(result)
    assert "Saved 2 new" in result.output


def test_utf16_without_byte_order_mark_is_refused_in_our_words(
    store_url: str, price: int, tmp_path: Path
) -> None:
    path = tmp_path / "utf16le.csv"
    path.write_bytes(_csv([f"{HOURS[0]},5"]).encode("utf-16-le"))
    before = _table_counts(store_url)
    result = _add(store_url, path, price, "--source", "x")
    assert result.exit_code != 0
    assert "holds NUL bytes" in _message(result) and "\\x00" not in _message(result)
    assert _table_counts(store_url) == before


@pytest.mark.parametrize(
    ("value", "start", "fragment"),
    [
        (
            float("inf"),
            T0,
            "event_value inf is not a finite number for 1 belief(s), first at event",
        ),
        (float("-inf"), T0, "event_value -inf is not a finite number"),
        (
            1.0,
            datetime(9999, 12, 31, 23, tzinfo=UTC),
            "event_start 9999-12-31 23:00:00+00:00 is outside",
        ),
        (1.0, datetime(1850, 1, 1, tzinfo=UTC), "event_start 1850-01-01 00:00:00+00:00 is outside"),
    ],
)
def test_save_beliefs_refuses_non_finite_values_and_far_times(
    store_url: str, price: int, value: float, start: datetime, fragment: str
) -> None:
    """Every door ends in save_beliefs: the API, the inbox and library callers are covered."""
    before = _table_counts(store_url)
    with open_store(store_url) as store:
        src = store.get_or_create_source("market", "market")
        frame = belief_frame(price, src.id, [value], start, timedelta(hours=1), T0)
        with pytest.raises(BeliefValidationError) as err:
            store.save_beliefs(frame)
    assert fragment in str(err.value)
    assert _table_counts(store_url) == before
