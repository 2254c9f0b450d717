"""Lake housekeeping: fewer, larger files, and no file kept that no snapshot needs.

Every replaced partition leaves its old Parquet files behind for the snapshots that still
see them (time travel, and readers in the middle of a query), and every small write adds a
small file. Housekeeping, in order:
1. flush rows DuckLake kept inline in the catalog (small appends) into Parquet files;
2. merge adjacent small files of each table;
3. expire the snapshots older than the retention;
4. delete the files only expired snapshots used, once they have been unused for `grace`;
5. delete orphaned files (left by a run killed in the middle of its write) older than `grace`
   and never younger than ORPHAN_MIN_AGE.

`grace` must be longer than the longest reader query: a reader inside a transaction
fails if the files it reads are removed under it. Each step runs in its own transaction,
redone when it loses a commit conflict to a writer, and a deleting step also when a file
it listed was gone when it looked (a writer's aborted files); the writer is never failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from waap_sessions.lake import LAKE, LakeSettings, write_transaction
from waap_sessions.sql import literal

if TYPE_CHECKING:
    import duckdb

ORPHAN_MIN_AGE = timedelta(hours=1)
"""A write puts its files on storage before its commit names them, so until then they
look like orphans; deleting one would leave the commit naming a file that is gone, and
the table unreadable. An hour is far longer than any write (seconds for a 1,000,000-row
partition), whatever the grace."""


@dataclass(frozen=True)
class LakeFiles:
    """What the lake holds at one moment."""

    live_files: int
    """Parquet files the current snapshot reads."""
    stored_files: int
    """Parquet files under the data path, live or not (orphans included)."""
    snapshots: int
    """Snapshots a reader may still travel back to."""


@dataclass(frozen=True)
class MaintenanceReport:
    """The lake before and after housekeeping."""

    before: LakeFiles
    after: LakeFiles


STEPS = (
    ("flush inlined rows", "CALL ducklake_flush_inlined_data('{lake}')"),
    ("merge adjacent files", "CALL ducklake_merge_adjacent_files('{lake}')"),
    (
        "expire old snapshots",
        "CALL ducklake_expire_snapshots('{lake}', older_than => now() - {retention})",
    ),
    (
        "delete unused files",
        "CALL ducklake_cleanup_old_files('{lake}', older_than => now() - {grace})",
    ),
    (
        "delete orphaned files",
        "CALL ducklake_delete_orphaned_files('{lake}', older_than => now() - {orphan_age})",
    ),
)


def maintain(
    connection: duckdb.DuckDBPyConnection,
    settings: LakeSettings,
    *,
    retention: timedelta,
    grace: timedelta,
) -> MaintenanceReport:
    """Run every housekeeping step on a read-write connection; report the files it left."""
    if grace > retention:
        raise ValueError("the file grace period must not exceed the snapshot retention")
    before = lake_files(connection, settings)
    for what, template in STEPS:
        deletes_files = "cleanup_old_files" in template or "delete_orphaned_files" in template
        sql = template.format(
            lake=LAKE,
            retention=_interval(retention),
            grace=_interval(grace),
            orphan_age=_interval(max(grace, ORPHAN_MIN_AGE)),
        )
        write_transaction(
            connection,
            partial(_run, sql),
            what=f"lake housekeeping: {what}",
            also_redo=file_vanished if deletes_files else None,
        )
    return MaintenanceReport(before=before, after=lake_files(connection, settings))


def file_vanished(error: BaseException) -> bool:
    """Whether a deleting step failed on a file that left storage while it looked.

    DuckLake lists the data path, then opens each file it considers. A writer that loses
    a commit conflict deletes the files it had written in between, and the step fails on
    the first of them; run again, it lists storage as it now is.
    """
    import duckdb

    text = str(error)
    return (
        isinstance(error, duckdb.IOException)
        and "Cannot open file" in text
        and "No such file or directory" in text
    )


def lake_files(connection: duckdb.DuckDBPyConnection, settings: LakeSettings) -> LakeFiles:
    """Count the live files, the files on storage and the snapshots."""
    metadata = f"__ducklake_metadata_{LAKE}"
    live = connection.execute(
        f"SELECT count(*) FROM {metadata}.ducklake_data_file WHERE end_snapshot IS NULL"
    ).fetchone()
    parquet_files = literal(f"{settings.resolved_data_path}**/*.parquet")
    stored = connection.execute(f"SELECT count(*) FROM glob({parquet_files})").fetchone()
    snapshots = connection.execute(f"SELECT count(*) FROM ducklake_snapshots('{LAKE}')").fetchone()
    return LakeFiles(
        live_files=live[0] if live else 0,
        stored_files=stored[0] if stored else 0,
        snapshots=snapshots[0] if snapshots else 0,
    )


def _run(sql: str, connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(sql)


def _interval(span: timedelta) -> str:
    return f"INTERVAL '{int(span.total_seconds())} seconds'"
