"""Moving an install's tables from the single DuckDB file of earlier versions into the lake.

The old file is attached read-only and left as it was. Each table's rows are copied in
one transaction, except those whose key the lake already holds (the lake's are newer:
they came from a run after the move, or from a move before), so running it twice copies
nothing twice. Afterwards every key of the file is checked to be in the lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from waap_sessions.errors import WarehouseError
from waap_sessions.lake import LAKE, write_transaction
from waap_sessions.sql import literal
from waap_sessions.warehouse import TABLES, Table, claim, count_of

OLD = "old_file"


@dataclass(frozen=True)
class TableMove:
    """What the move did to one table."""

    table: str
    rows_in_file: int
    copied: int
    already_in_lake: int


def migrate(connection: duckdb.DuckDBPyConnection, old_file: Path) -> list[TableMove]:
    """Copy every table of the contract from `old_file` into the lake open on `connection`."""
    if not old_file.is_file():
        raise WarehouseError(f"--from {old_file}: no such DuckDB file")
    try:
        connection.execute(f"ATTACH {literal(old_file)} AS {OLD} (READ_ONLY)")
    except duckdb.Error as error:
        raise WarehouseError(f"--from {old_file}: cannot open it read-only: {error}") from None
    try:
        found = {
            name
            for (name,) in connection.execute(
                f"SELECT table_name FROM duckdb_tables() WHERE database_name = {literal(OLD)}"
            ).fetchall()
        }
        return [move_table(connection, table) for table in TABLES if table.name in found]
    finally:
        connection.execute(f"USE {LAKE}")
        connection.execute(f"DETACH {OLD}")


def move_table(connection: duckdb.DuckDBPyConnection, table: Table) -> TableMove:
    """Copy one table's rows whose key the lake lacks, then check that none is missing."""
    old_columns = {
        name
        for (name,) in connection.execute(
            "SELECT column_name FROM duckdb_columns() "
            f"WHERE database_name = {literal(OLD)} AND table_name = {literal(table.name)}"
        ).fetchall()
    }
    columns = ", ".join(name for name in table.column_names if name in old_columns)
    source = f"{OLD}.main.{table.name}"
    target = f"{LAKE}.main.{table.name}"
    missing = (
        f"FROM {source} AS old WHERE NOT EXISTS (SELECT 1 FROM {target} AS lake WHERE "
        + " AND ".join(f"lake.{key} IS NOT DISTINCT FROM old.{key}" for key in table.key)
        + ")"
    )
    rows_in_file = count_of(connection, f"SELECT count(*) FROM {source}")
    to_copy = count_of(connection, f"SELECT count(*) {missing}")

    def copy(lake: duckdb.DuckDBPyConnection) -> None:
        claim(lake, table)  # two moves at once must not both copy the same rows
        lake.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} {missing}")

    write_transaction(connection, copy, what=f"moving {table.name} into the lake")
    left_behind = count_of(connection, f"SELECT count(*) {missing}")
    if left_behind:
        raise WarehouseError(f"{table.name}: {left_behind} rows of the file are not in the lake")
    return TableMove(table.name, rows_in_file, to_copy, rows_in_file - to_copy)
