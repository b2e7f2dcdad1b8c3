"""Reading one tabular file (CSV, JSONL, Parquet) with errors that name the file, line, column and fix."""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from convrec.core.errors import CatalogError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
MAX_FIELD_CHARS = {"title": 500, "description": 10_000, "tag": 500}
DEFAULT_MAX_FIELD_CHARS = 2_000


def file_format(path: Path, declared: str | None = None) -> str:
    fmt = declared or FORMATS.get(path.suffix.lower())
    if fmt not in FORMATS.values():
        raise CatalogError(f"unsupported file format '{path.suffix or declared}'", where=str(path),
                           fix="use .csv, .jsonl or .parquet, or set `format` in convrec.toml")
    return fmt


def line_of(row: int) -> int:
    """Human line number of a data row in a file with a header line (row 0 is on line 2)."""
    return row + 2


def where(path: Path, row: int | None = None, column: str | None = None) -> str:
    parts = [str(path)]
    if row is not None:
        parts.append(f"line {line_of(row)}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


def read_table(path: Path, fmt: str | None = None) -> pd.DataFrame:
    """Every column as text (nulls as None), so validation sees exactly what the file says."""
    if not path.is_file():
        raise CatalogError("file not found", where=str(path), fix="check the path, or the file name in convrec.toml")
    fmt = file_format(path, fmt)
    if path.stat().st_size == 0:
        raise CatalogError("empty file", where=str(path), fix="the file needs a header line and at least one row")
    if fmt != "parquet":
        _check_utf8(path)
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError as error:
        raise CatalogError("empty file", where=str(path), fix="add a header line and rows") from error
    except (pd.errors.ParserError, ValueError) as error:
        raise CatalogError(f"cannot parse the file: {error}", where=str(path),
                           fix="check quoting and the number of fields per line") from error
    return frame.astype(object).where(frame.notna(), None)


def _check_utf8(path: Path) -> None:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CatalogError(f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})",
                           where=f"{path}, line {line}",
                           fix="re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from error


def require_columns(frame: pd.DataFrame, path: Path, columns: list[str]) -> None:
    found = [str(c) for c in frame.columns]
    for column in columns:
        if column in found:
            continue
        close = difflib.get_close_matches(column, found, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise CatalogError(f"missing column '{column}' (found: {', '.join(found) or 'none'})", where=str(path),
                           fix=f"{hint}rename the column, or map it in convrec.toml")


def require_rows(frame: pd.DataFrame, path: Path, what: str) -> None:
    if frame.empty:
        raise CatalogError(f"no {what}: the file has a header but no rows", where=str(path),
                           fix=f"add at least one {what.rstrip('s')}")


def check_lengths(frame: pd.DataFrame, path: Path, columns: list[str]) -> None:
    for column in columns:
        limit = MAX_FIELD_CHARS.get(column, DEFAULT_MAX_FIELD_CHARS)
        lengths = frame[column].map(lambda v: len(v) if isinstance(v, str) else 0)
        too_long = lengths[lengths > limit]
        if not too_long.empty:
            row = int(too_long.index[0])
            raise CatalogError(f"field too long ({int(too_long.iloc[0]):,} characters, limit {limit:,}); "
                               f"{len(too_long)} such row(s)", where=where(path, row, column),
                               fix="shorten it; is a delimiter or quote missing?")


def require_values(frame: pd.DataFrame, path: Path, columns: list[str]) -> None:
    for column in columns:
        missing = frame[column].map(lambda v: v is None or (isinstance(v, str) and not v.strip()))
        if missing.any():
            row = int(missing[missing].index[0])
            raise CatalogError(f"empty value; {int(missing.sum())} such row(s)", where=where(path, row, column),
                               fix="fill it in or remove the row")


def check_unique(frame: pd.DataFrame, path: Path, column: str) -> None:
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        rows = frame.index[duplicated]
        value = frame.at[rows[0], column]
        lines = [line_of(int(r)) for r in frame.index[frame[column] == value]][:2]
        raise CatalogError(f"duplicate id '{value}' on lines {lines[0]} and {lines[1]}; "
                           f"{int(frame[column].duplicated().sum())} duplicate(s) in all",
                           where=f"{path}, column '{column}'", fix="ids must be unique: remove or renumber")


def numeric(frame: pd.DataFrame, path: Path, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(bad[bad].index[0])
        raise CatalogError(f"not a number: '{frame.at[row, column]}'; {int(bad.sum())} such row(s)",
                           where=where(path, row, column), fix="use numbers like 4 or 3.5")
    return values
