"""Reading a CSV file's text: encodings, headers, delimiters and ragged rows in our words.

polars reads the table; when it cannot, or when the file is not what it seems (UTF-16, a
``;``-separated file read with ``,``, a header row that is data), the error says so in terms of
the file — row and line numbers, the delimiter to give — instead of the reader's internals.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from flex_pipelines.errors import FlexPipelinesError

__all__ = ["CSVError", "CSVOptions", "OFF_TICK", "delimiter_hint", "header_is_data", "read_table"]


class CSVError(FlexPipelinesError):
    """A file whose rows cannot be read as beliefs."""


@dataclass(frozen=True)
class CSVOptions:
    datecol: int | str = 0
    valuecol: int | str = 1
    skiprows: int = 0
    header: bool = True
    delimiter: str = ","
    timezone: str | None = None
    unit: str | None = None
    belief_time: datetime | None = None
    horizon: timedelta | None = None
    off_tick: str = "reject"  # or "floor"

    def __post_init__(self) -> None:
        if self.off_tick not in OFF_TICK:
            raise CSVError(f"off-tick {self.off_tick!r} is not one of {', '.join(OFF_TICK)}")
        if len(self.delimiter) != 1:
            raise CSVError(f"delimiter {self.delimiter!r} must be one character")


OFF_TICK = ("reject", "floor")


def _as_utf8(data: bytes, name: str) -> bytes:
    """The file's bytes as UTF-8: a byte-order mark is dropped, UTF-16 with one is decoded;
    other encodings and binary files are refused in our words (not as ``\\x00`` noise)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").encode()
        except UnicodeDecodeError as exc:
            raise CSVError(f"{name} starts as UTF-16 but byte {exc.start} is not") from None
    if b"\x00" in data[:4096]:
        raise CSVError(
            f"{name} holds NUL bytes: a binary file or UTF-16 without a byte-order mark; "
            "save it as UTF-8 (or UTF-16 with BOM) text"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CSVError(
            f"{name} is not UTF-8 text (line {line}, byte {exc.start}); save it as UTF-8"
        ) from None
    return data


def _rows(data: bytes, options: CSVOptions) -> csv.Reader:
    lines = io.StringIO(data.decode("utf-8"))
    for _ in range(options.skiprows):
        lines.readline()
    return csv.reader(lines, delimiter=options.delimiter)


def _first_row(data: bytes, options: CSVOptions) -> list[str] | None:
    return next((row for row in _rows(data, options) if row), None)


def _positional(col: int | str) -> int | None:
    return int(col) if isinstance(col, int) or str(col).isdigit() else None


def header_is_data(data: bytes, options: CSVOptions) -> bool:
    """Whether the header row is a data row: a timestamp and a number where they are read.

    Parameters
    ----------
    data : bytes
        The file's content (UTF-8).
    options : CSVOptions
        Rows to skip, delimiter and the date and value columns (positions; with column names
        the file has a header).

    Returns
    -------
    bool
        True when the file evidently has no header row.
    """
    row = _first_row(data, options)
    d, v = _positional(options.datecol), _positional(options.valuecol)
    if row is None or d is None or v is None or max(d, v) >= len(row):
        return False
    try:
        datetime.fromisoformat(row[d].strip().replace("Z", "+00:00"))
        float(row[v])
    except ValueError:
        return False
    return True


def _read_error(
    data: bytes, name: str, options: CSVOptions, header: bool, exc: Exception
) -> CSVError:
    """A polars read error in our words: a ragged row names its row and line."""
    reader = _rows(data, options)
    first = next((row for row in reader if row), None)
    if first is not None:
        for row in reader:
            if len(row) > len(first):
                data_row = reader.line_num - options.skiprows - (1 if header else 0)
                what = "the header" if header else "the first row"
                return CSVError(
                    f"{name}: row {data_row} (line {reader.line_num}) has {len(row)} fields, "
                    f"{what} {len(first)}; fix that row (every row needs the same columns)"
                )
    text = str(exc).strip().splitlines()
    return CSVError(f"cannot read {name} as CSV: {text[0] if text else type(exc).__name__}")


def delimiter_hint(first: str) -> str:
    """A hint for a file read as one column whose rows look separated by another character.

    Parameters
    ----------
    first : str
        The one column's name (the file's first line).

    Returns
    -------
    str
        ``"; its rows look separated by ';': give that delimiter (--delimiter)"`` or ``""``.
    """
    for sep, shown in ((";", "';'"), ("\t", "tab ('\\t')"), ("|", "'|'")):
        if sep in first:
            return f"; its rows look separated by {shown}: give that delimiter (--delimiter)"
    return ""


def read_table(data: bytes, name: str, options: CSVOptions) -> pl.DataFrame:
    """A CSV file as a frame of strings, with every reading problem refused in our words.

    A header row that reads as data (a timestamp and a number in the date and value columns)
    is taken as the first data row, with a warning, instead of being lost as a header.

    Parameters
    ----------
    data : bytes
        The file's content (UTF-8, or UTF-16 with a byte-order mark).
    name : str
        The file's name, for messages.
    options : CSVOptions
        Header, rows to skip, delimiter and the date and value columns.

    Returns
    -------
    pl.DataFrame
        One string column per column of the file.
    """
    data = _as_utf8(data, name)
    header = options.header
    if header and header_is_data(data, options):
        first = options.delimiter.join(_first_row(data, options) or [])
        warnings.warn(
            f"{name}: the first row {first!r} is data, not a header; "
            "read it as data (give --no-header for files without one)",
            stacklevel=3,
        )
        header = False
    try:
        return pl.read_csv(
            io.BytesIO(data),
            has_header=header,
            skip_rows=options.skiprows,
            separator=options.delimiter,
            infer_schema=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise _read_error(data, name, options, header, exc) from exc
