"""Values written into the package's SQL as literals, never bound as parameters.

DuckDB's Python client imports pandas, NumPy and pyarrow the first time a statement is
given parameters, to recognise their types (duckdb/duckdb#18658). In a run's process
that cost 0.55 s and about 90 MB, more than the rest of a re-run of an unchanged
partition, and most of the gap between a load's peak memory and dlt's. So the package
binds no parameters: the few values its statements need (table names, days, domain ids,
timestamps, file paths, domain names) are written as typed literals that DuckDB reads
back exactly.
"""

from datetime import date, datetime
from pathlib import Path
from typing import TypeAlias

SqlValue: TypeAlias = "bool | int | str | Path | date | datetime | list[SqlValue] | None"


def quoted(text: str) -> str:
    """`text` as the inside of a single-quoted SQL string (DuckDB reads no backslash escapes)."""
    if "\x00" in text:
        raise ValueError("a SQL string cannot hold a NUL character")
    return text.replace("'", "''")


def literal(value: SqlValue) -> str:
    """`value` as a DuckDB literal of its type: `literal(date(2026, 11, 19))` is
    `DATE '2026-11-19'`; a list becomes a list literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str | Path):
        return f"'{quoted(str(value))}'"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"a timestamp needs a time zone (got {value!r})")
        return f"TIMESTAMPTZ '{value.isoformat()}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    raise TypeError(f"no SQL literal for {type(value).__name__}")
