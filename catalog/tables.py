"""Reading one tabular file (CSV, JSONL, Parquet) so that any row can later be named by its place in the file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from convrec.core.errors import CatalogError

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: dict[str, Format] = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                              ".parquet": "parquet"}


CHUNK_ROWS = 250_000  # rows per part when a large file is read part by part


@dataclass(frozen=True)
class Table:
    """A file's rows, or one part of them. The frame keeps the reader's row labels (counted from the file's first
    row, also in a part) through any filtering, so errors can name lines."""

    path: Path
    format: Format
    frame: pd.DataFrame
    lines_before: int = 0  # CSV: line breaks inside quoted fields of the file's earlier parts

    def place(self, row: int) -> str:
        """Where row label `row` is, as a human reads the file: "line 17" (CSV header = line 1) or "row 3"."""
        if self.format == "csv":
            return f"line {row + 2 + self._newlines_inside_fields_before(row)}"
        if self.format == "jsonl":
            return f"line {row + 1}"
        return f"row {row + 1}"

    def where(self, row: int | None = None, column: str | None = None) -> str:
        parts = [str(self.path)]
        if row is not None:
            parts.append(self.place(row))
        if column is not None:
            parts.append(f"column '{column}'")
        return ", ".join(parts)

    def _newlines_inside_fields_before(self, row: int) -> int:
        # A quoted CSV field may span lines; only the error path pays for counting them.
        return self.lines_before + _line_breaks_in_fields(self.frame.loc[self.frame.index < row])


def file_format(path: Path, declared: str | None = None) -> Format:
    fmt = declared or FORMATS.get(path.suffix.lower())
    if fmt not in FORMATS.values():
        raise CatalogError(f"unsupported file format '{declared or path.suffix}'", where=str(path),
                           fix="use .csv, .jsonl or .parquet, or set `format` in convrec.toml")
    return fmt


def read_table(path: Path, fmt: str | None = None, *, delimiter: str | None = None) -> Table:
    """CSV cells stay text (nulls are NaN); JSONL and Parquet keep their own types. Blank CSV lines are dropped.

    The CSV delimiter defaults to a tab for .tsv files and a comma otherwise.
    """
    fmt = _readable(path, fmt)
    with _explained(path, fmt):
        frame = _read(path, fmt, _delimiter(path, delimiter))
    return Table(path, fmt, frame)


def read_table_parts(path: Path, fmt: str | None = None, *, delimiter: str | None = None,
                     rows: int | None = None) -> Iterator[Table]:
    """The file as `read_table` reads it, `rows` (default CHUNK_ROWS) at a time, so memory does not grow with the
    file. At least one part, empty if the file has a header but no rows."""
    fmt = _readable(path, fmt)
    rows = rows or CHUNK_ROWS
    lines_before, any_part = 0, False
    with _explained(path, fmt):
        for frame in _read_parts(path, fmt, _delimiter(path, delimiter), rows):
            any_part = True
            yield Table(path, fmt, frame, lines_before)
            if fmt == "csv":
                lines_before += _line_breaks_in_fields(frame)
        if not any_part:
            yield Table(path, fmt, _read(path, fmt, _delimiter(path, delimiter)))


def _readable(path: Path, fmt: str | None) -> Format:
    if not path.is_file():
        raise CatalogError("file not found", where=str(path), fix="check the path, or the file name in convrec.toml")
    fmt = file_format(path, fmt)
    if path.stat().st_size == 0:
        raise CatalogError("empty file", where=str(path), fix="the file needs a header line and at least one row")
    return fmt


def _delimiter(path: Path, declared: str | None) -> str:
    return declared or ("\t" if path.suffix.lower() == ".tsv" else ",")


@contextmanager
def _explained(path: Path, fmt: Format) -> Iterator[None]:
    """Reading errors as CatalogErrors that name the file (and the line, where it can be known)."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise _not_utf8(path, error) from error
    except pd.errors.EmptyDataError as error:
        raise CatalogError("empty file", where=str(path), fix="add a header line and rows") from error
    except (pd.errors.ParserError, ValueError, pa.ArrowException) as error:
        raise _unparseable(path, fmt, error) from error


# No date guessing in JSON Lines: a "timestamp" column of epoch seconds must stay numbers.
_JSONL = {"lines": True, "dtype": False, "convert_dates": False, "keep_default_dates": False, "encoding": "utf-8"}


def _csv_options(delimiter: str) -> dict:
    # Blank lines are read as all-null rows, then dropped, so row labels still map onto line numbers.
    return {"sep": delimiter, "dtype": "str", "keep_default_na": False, "na_values": [""], "skip_blank_lines": False,
            "encoding": "utf-8-sig"}


def _read(path: Path, fmt: Format, delimiter: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "jsonl":
        return pd.read_json(path, **_JSONL)
    return pd.read_csv(path, **_csv_options(delimiter)).dropna(how="all")


def _read_parts(path: Path, fmt: Format, delimiter: str, rows: int) -> Iterator[pd.DataFrame]:
    """Frames of at most `rows` rows whose labels count from the file's first row."""
    if fmt == "parquet":
        start = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
    elif fmt == "jsonl":
        with pd.read_json(path, chunksize=rows, **_JSONL) as reader:
            yield from reader
    else:
        with pd.read_csv(path, chunksize=rows, **_csv_options(delimiter)) as reader:
            for frame in reader:
                yield frame.dropna(how="all")


def _line_breaks_in_fields(frame: pd.DataFrame) -> int:
    """Line breaks inside (quoted) CSV fields: they shift the line numbers of the rows after them."""
    return int(sum(frame[column].astype("str").str.count("\n").sum() for column in frame.columns))


def _not_utf8(path: Path, error: UnicodeDecodeError) -> CatalogError:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as located:  # pandas' own offset is into its read buffer, not into the file
        error = located
    line = data[: error.start].count(b"\n") + 1
    return CatalogError(f"not valid UTF-8 (byte 0x{data[error.start]:02x} at byte offset {error.start})",
                        where=f"{path}, line {line}",
                        fix="re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)")


def _unparseable(path: Path, fmt: Format, error: Exception) -> CatalogError:
    if fmt == "jsonl":
        line = _first_bad_json_line(path)
        return CatalogError(f"not valid JSON Lines: {error}", where=f"{path}, line {line}" if line else str(path),
                            fix="each line must be one JSON object")
    if fmt == "parquet":
        return CatalogError(f"cannot read the Parquet file: {error}", where=str(path),
                            fix="re-export it, or use CSV")
    detail = str(error).strip().splitlines()[-1]
    return CatalogError(f"cannot parse the CSV: {detail}", where=str(path),
                        fix="check quoting and the number of fields per line")


def _first_bad_json_line(path: Path) -> int | None:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                if not isinstance(json.loads(line), dict):
                    return number
            except json.JSONDecodeError:
                return number
    return None
