"""The lake itself: settings refused early, offline extensions, conflicts redone, housekeeping."""

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import boto3
import duckdb
import pyarrow as pa
import pytest
from moto.server import ThreadedMotoServer

from waap_sessions.automation import AutomationSettings, build_lake_maintenance_job
from waap_sessions.errors import InvalidParameterError, WarehouseConflictError, WarehouseError
from waap_sessions.lake import (
    LakeSettings,
    engine_connection,
    extension_file,
    open_lake,
    write_transaction,
)
from waap_sessions.maintenance import file_vanished, lake_files, maintain
from waap_sessions.resources import WarehouseResource
from waap_sessions.warehouse import TOP_SESSIONS, connect, create_tables, replace_partition
from waap_sessions_tests.conftest import lake_settings, query
from waap_sessions_tests.postgres import PostgresServer


def ranks(day: str, count: int, session: str) -> pa.Table:
    """`count` rows of top_sessions for one day of domain 1, every session named `session`."""
    rows = {name: [None] * count for name in TOP_SESSIONS.column_names}
    rows.update(
        domain_id=[1] * count,
        day=[pa.scalar(day, pa.string()).cast(pa.date32()).as_py()] * count,
        rank=list(range(1, count + 1)),
        session_id=[session] * count,
    )
    return pa.table(rows)


def replace_day(connection: duckdb.DuckDBPyConnection, day: str, rows: pa.Table) -> None:
    """What `replace_partition` does inside its transaction, on `top_sessions`."""
    connection.execute("DELETE FROM top_sessions WHERE day = ?", [day])
    connection.register("incoming", rows)
    connection.execute("INSERT INTO top_sessions BY NAME SELECT * FROM incoming")
    connection.unregister("incoming")


@pytest.fixture
def lake(tmp_path: Path) -> LakeSettings:
    settings = lake_settings(tmp_path)
    connect(read_only=False, settings=settings).close()  # creates the lake and its tables
    return settings


# Settings are refused before anything opens, naming the setting, the value and the rule


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("WAAP_DUCKLAKE_CATALOG", "data/lake.duckdb", "must be 'sqlite:<file>'"),
        ("WAAP_DUCKLAKE_CATALOG", "sqlite:", "must name the SQLite file"),
        ("WAAP_DUCKLAKE_CATALOG", "mysql:host=db", "must be 'sqlite:<file>'"),
        ("WAAP_DUCKLAKE_DATA_PATH", "it's/here", "without quotes"),
    ],
)
def test_a_bad_setting_fails_in_one_line_naming_it(monkeypatch, variable, value, rule):
    monkeypatch.setenv(variable, value)

    with pytest.raises(InvalidParameterError) as raised:
        WarehouseResource.from_env()

    message = str(raised.value)
    assert "\n" not in message
    assert raised.value.fields == (variable,)
    assert rule in message
    assert repr(value) in message


def test_a_password_in_the_catalog_string_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("WAAP_DUCKLAKE_CATALOG", "postgres:dbname=lake host=db password=hunter2")

    with pytest.raises(InvalidParameterError) as raised:
        LakeSettings.from_env()

    assert "WAAP_DUCKLAKE_CATALOG_PASSWORD" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert "password=***" in str(raised.value)


def test_the_catalog_password_reaches_dagster_as_an_env_var_name(monkeypatch):
    monkeypatch.setenv("WAAP_DUCKLAKE_CATALOG", "postgres:dbname=lake host=127.0.0.1")
    monkeypatch.setenv("WAAP_DUCKLAKE_CATALOG_PASSWORD", "s3cret-catalog-pw")

    resource = WarehouseResource.from_env()

    assert "s3cret-catalog-pw" not in repr(resource)
    assert "WAAP_DUCKLAKE_CATALOG_PASSWORD" in repr(resource.catalog_password)
    resolved = WarehouseResource(catalog=resource.catalog, catalog_password="s3cret-catalog-pw")
    assert "s3cret-catalog-pw" not in repr(resolved) + str(resolved)


def test_a_reader_before_any_load_is_told_what_to_do(tmp_path):
    with pytest.raises(WarehouseError, match=r"No lake yet at .* the first load creates it"):
        connect(read_only=True, settings=lake_settings(tmp_path))


# Offline: the extensions come from their wheels, nothing is downloaded or cached


def test_the_lake_opens_and_writes_with_nothing_installed_in_duckdbs_home(tmp_path):
    """DuckDB installs extensions under ~/.duckdb; a clean HOME stays clean."""
    home = tmp_path / "home"
    home.mkdir()
    script = (
        "import sys; from waap_sessions.warehouse import connect; "
        "from waap_sessions_tests.conftest import lake_settings; "
        "lake = connect(read_only=False, settings=lake_settings(sys.argv[1])); "
        "lake.execute('INSERT INTO active_sessions VALUES (now(), \\'appgate\\', \\'total\\', "
        "\\'all\\', 1)'); print(lake.sql('SELECT count(*) FROM active_sessions').fetchone()[0])"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "lake")],
        env={**os.environ, "HOME": str(home)},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "1"
    assert list(home.iterdir()) == []


# Any DuckDB client reads the tables with the README's two lines


def test_the_readmes_two_sql_lines_attach_the_tables_read_only(lake, tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("attach the same tables read-only; the catalog knows")[1]
    lines = block.split("```sql\n")[1].split("```")[0].strip().splitlines()
    assert len(lines) == 2
    with connect(read_only=False, settings=lake) as writer:
        replace_day(writer, "2026-11-20", ranks("2026-11-20", 3, "seen"))
    # A client of its own, offline: the extensions installed from their files, as the
    # README says, then autoloaded by name as the DuckDB CLI does.
    client = duckdb.connect(config={"extension_directory": str(tmp_path / "extensions")})
    for name in ("ducklake", "sqlite_scanner"):
        client.execute(f"INSTALL '{extension_file(name)}'")

    for line in lines:
        client.execute(
            line.replace("/path/to/waap_sessions/data/waap_catalog.sqlite", str(lake.sqlite_file))
        )

    assert client.sql("SELECT session_id, count(*) FROM top_sessions GROUP BY ALL").fetchall() == [
        ("seen", 3)
    ]
    with pytest.raises(duckdb.Error, match="read-only"):
        client.execute("DELETE FROM top_sessions")


# An object-store data path


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket on an S3 server on loopback, its credentials in the standard variables."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    credentials = {
        "AWS_ACCESS_KEY_ID": "waap-test-key",
        "AWS_SECRET_ACCESS_KEY": "waap-test-secret-9f3a",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
    }
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=credentials["AWS_ENDPOINT_URL"]).create_bucket(Bucket="lake")
    try:
        yield credentials["AWS_ENDPOINT_URL"]
    finally:
        server.stop()


def test_an_object_store_data_path_holds_the_parquet_files(tmp_path, s3_bucket):
    settings = LakeSettings(catalog=f"sqlite:{tmp_path}/catalog.sqlite", data_path="s3://lake/waap")

    with connect(read_only=False, settings=settings) as writer:
        write_transaction(
            writer,
            lambda c: replace_day(c, "2026-11-20", ranks("2026-11-20", 50, "stored")),
            what="a replacement",
        )
    with connect(read_only=True, settings=settings) as reader:
        rows = reader.sql("SELECT session_id, count(*) FROM top_sessions GROUP BY ALL").fetchall()
        files = lake_files(reader, settings)

    assert rows == [("stored", 50)]
    listed = boto3.client("s3", endpoint_url=s3_bucket).list_objects_v2(Bucket="lake")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert [key for key in keys if key.startswith("waap/main/top_sessions/")] == keys
    assert files.live_files == files.stored_files == len(keys) == 1
    assert not (tmp_path / "lake").exists()


# Commit conflicts: redone whole, a bounded number of times


def test_a_write_that_loses_a_commit_conflict_is_redone_whole(lake, caplog):
    caplog.set_level(logging.WARNING, logger="waap_sessions.lake")
    ours, theirs = open_lake(lake, read_only=False), open_lake(lake, read_only=False)
    tries = []

    def replace(connection: duckdb.DuckDBPyConnection) -> None:
        tries.append(len(tries) + 1)
        replace_day(connection, "2026-11-20", ranks("2026-11-20", 10, "ours"))
        if len(tries) == 1:  # another run replaces the same table and commits first
            write_transaction(
                theirs,
                lambda other: replace_day(other, "2026-11-20", ranks("2026-11-20", 7, "theirs")),
                what="the other run",
            )

    write_transaction(ours, replace, what="replacing top_sessions 2026-11-20")

    assert tries == [1, 2]
    assert query(
        lake_folder(lake), "SELECT session_id, count(*) FROM top_sessions GROUP BY ALL"
    ) == [("ours", 10)]
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "waap_sessions.lake"]
    assert "replacing top_sessions 2026-11-20 lost a commit conflict" in warning


def test_a_write_that_keeps_losing_fails_clearly_and_writes_nothing(lake):
    ours, theirs = open_lake(lake, read_only=False), open_lake(lake, read_only=False)
    tries = []

    def replace(connection: duckdb.DuckDBPyConnection) -> None:
        tries.append(1)
        replace_day(connection, "2026-11-20", ranks("2026-11-20", 10, "ours"))
        write_transaction(
            theirs,
            lambda other: replace_day(other, "2026-11-20", ranks("2026-11-20", 7, "theirs")),
            what="the other run",
        )

    with pytest.raises(WarehouseConflictError) as raised:
        write_transaction(ours, replace, what="replacing top_sessions 2026-11-20", attempts=3)

    assert len(tries) == 3
    assert str(raised.value).startswith(
        "replacing top_sessions 2026-11-20 lost a commit conflict to other writers of the same "
        "table 3 times in a row; nothing of it was written."
    )
    assert query(lake_folder(lake), "SELECT DISTINCT session_id FROM top_sessions") == [("theirs",)]


# What DuckLake raised (CI, stop 15) when a writer's aborted file left storage between
# ducklake_delete_orphaned_files listing the data path and opening the file.
VANISHED = (
    "IO Error: Failed to get files scheduled for deletion from DuckLake: Cannot open file "
    '"data/main/top_sessions/ducklake-01a2.parquet": No such file or directory'
)


@pytest.mark.parametrize(
    ("error", "redone"),
    [
        (VANISHED, True),
        ('IO Error: Cannot open file "data/x.parquet": Permission denied', False),
    ],
)
def test_a_deleting_step_that_met_a_vanished_file_is_redone(lake, caplog, error, redone):
    caplog.set_level(logging.WARNING, logger="waap_sessions.lake")
    connection = open_lake(lake, read_only=False)
    tries = []

    def step(connection: duckdb.DuckDBPyConnection) -> None:
        tries.append(1)
        connection.execute("SELECT 1")
        if len(tries) == 1:
            raise duckdb.IOException(error)

    what = "lake housekeeping: delete orphaned files"
    if redone:
        write_transaction(connection, step, what=what, also_redo=file_vanished)
        assert len(tries) == 2
        (warning,) = [r.getMessage() for r in caplog.records if r.name == "waap_sessions.lake"]
        assert warning.startswith(f"{what} raced another writer ({VANISHED}) (try 1 of ")
    else:
        with pytest.raises(duckdb.IOException, match="Permission denied"):
            write_transaction(connection, step, what=what, also_redo=file_vanished)
        assert len(tries) == 1


@pytest.fixture(params=["sqlite", "postgres"])
def either_lake(request: pytest.FixtureRequest, tmp_path: Path) -> LakeSettings:
    """A new lake with the embedded catalog, then with a PostgreSQL one."""
    if request.param == "sqlite":
        settings = lake_settings(tmp_path)
    else:
        server: PostgresServer = request.getfixturevalue("postgres_catalog")
        settings = LakeSettings(
            catalog=server.new_database(f"lake_{tmp_path.name.lower()}"),
            data_path=f"{tmp_path}/data/",
            catalog_password=server.password,
        )
    connect(read_only=False, settings=settings).close()
    return settings


def test_runs_replacing_a_partition_neither_had_loaded_leave_one_copy(either_lake):
    """Deleting an empty partition conflicts with nothing: without `claim`, both commit."""
    failures: list[BaseException] = []
    for day in ("2026-11-18", "2026-11-19", "2026-11-20"):
        start = threading.Barrier(3)

        def load(run: int, day: str = day, start: threading.Barrier = start) -> None:
            try:
                with open_lake(either_lake, read_only=False) as connection:
                    partition = {"day": date.fromisoformat(day), "domain_id": 1}
                    start.wait(timeout=30)
                    replace_partition(
                        connection, TOP_SESSIONS, partition, ranks(day, 50, f"run{run}")
                    )
            except BaseException as error:  # collected for the assertion below
                failures.append(error)

        threads = [threading.Thread(target=load, args=(run,)) for run in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert failures == []
        with engine_connection(either_lake, read_only=True) as reader:
            copies = reader.execute(
                "SELECT session_id, count(*) FROM top_sessions WHERE day = ? GROUP BY ALL",
                [date.fromisoformat(day)],
            ).fetchall()
        assert len(copies) == 1, (day, copies)
        assert copies[0][1] == 50


def test_writers_racing_on_a_new_lake_all_find_their_tables(tmp_path):
    settings = lake_settings(tmp_path)
    errors: list[BaseException] = []

    def open_and_create() -> None:
        try:
            with open_lake(settings, read_only=False) as connection:
                create_tables(connection)
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=open_and_create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert query(tmp_path, "SELECT count(*) FROM top_sessions") == [(0,)]


def lake_folder(settings: LakeSettings) -> Path:
    return Path(settings.catalog.removeprefix("sqlite:")).parent


# Housekeeping


def test_housekeeping_merges_expires_and_deletes_and_reports_it(lake):
    folder = lake_folder(lake)
    with connect(read_only=False, settings=lake) as writer:
        for attempt in range(8):  # 8 replacements of one day: 8 files, 7 of them dead
            write_transaction(
                writer,
                lambda c, n=attempt: replace_day(c, "2026-11-20", ranks("2026-11-20", 50, f"s{n}")),
                what="a replacement",
            )
    # An orphan, as a run killed mid-write leaves it.
    orphan = folder / "data" / "main" / "top_sessions" / "ducklake-orphan.parquet"
    orphan.write_bytes(
        (next((folder / "data" / "main" / "top_sessions").glob("*.parquet"))).read_bytes()
    )
    two_hours_ago = time.time() - 2 * 3600
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    settings = AutomationSettings(snapshot_retention_hours=0, file_grace_minutes=0)
    job = build_lake_maintenance_job(settings)

    result = job.execute_in_process(
        resources={"warehouse": WarehouseResource(catalog=lake.catalog, data_path=lake.data_path)}
    )

    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert metadata["stored_files_before"] >= 9
    # top_sessions' last file, and waap_meta.table_writes' (flushed from the catalog).
    assert metadata["stored_files_after"] == metadata["live_files_after"] == 2
    assert metadata["snapshots_after"] < metadata["snapshots_before"]
    assert len(list((folder / "data" / "main" / "top_sessions").glob("*.parquet"))) == 1
    assert not orphan.exists()
    assert query(folder, "SELECT session_id, count(*) FROM top_sessions GROUP BY ALL") == [
        ("s7", 50)
    ]


def test_housekeeping_keeps_what_a_reader_may_still_need(lake):
    """With the default grace, files replaced a moment ago stay for readers mid-query."""
    with connect(read_only=False, settings=lake) as writer:
        for attempt in range(3):
            write_transaction(
                writer,
                lambda c, n=attempt: replace_day(c, "2026-11-20", ranks("2026-11-20", 20, f"s{n}")),
                what="a replacement",
            )
    job = build_lake_maintenance_job(AutomationSettings())

    result = job.execute_in_process(
        resources={"warehouse": WarehouseResource(catalog=lake.catalog, data_path=lake.data_path)}
    )

    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
    # Nothing expired, nothing deleted (flushing the catalog's inlined rows adds a file).
    assert metadata["stored_files_after"] >= metadata["stored_files_before"] >= 3
    assert metadata["snapshots_after"] >= metadata["snapshots_before"]
    top_sessions_files = lake_folder(lake) / "data" / "main" / "top_sessions"
    assert len(list(top_sessions_files.glob("*.parquet"))) == 3


def test_housekeeping_never_deletes_the_files_of_a_write_not_yet_committed(lake):
    """Until its commit names them, a write's files look like orphans; even with no grace,
    deleting them would leave the commit naming files that are gone."""
    top_sessions_files = lake_folder(lake) / "data" / "main" / "top_sessions"
    with (
        connect(read_only=False, settings=lake) as writer,
        connect(read_only=False, settings=lake) as housekeeper,
    ):
        writer.execute("BEGIN TRANSACTION")
        replace_day(writer, "2026-11-20", ranks("2026-11-20", 20, "in flight"))
        in_flight = set(top_sessions_files.glob("*.parquet"))
        assert in_flight  # the write's file is on storage, named by no snapshot yet

        maintain(housekeeper, lake, retention=timedelta(0), grace=timedelta(0))

        assert in_flight <= set(top_sessions_files.glob("*.parquet"))
        writer.execute("ROLLBACK")


def test_a_grace_longer_than_the_retention_is_refused():
    with pytest.raises(ValueError, match=r"must not exceed the snapshot retention \(60 minutes"):
        AutomationSettings(snapshot_retention_hours=1, file_grace_minutes=90)


def test_housekeeping_beside_a_busy_writer_fails_neither(lake):
    """Maintenance that loses a conflict to a writer is redone; the writer never fails."""
    failures: list[BaseException] = []
    stop = threading.Event()

    def write_continuously() -> None:
        try:
            with connect(read_only=False, settings=lake) as writer:
                n = 0
                while not stop.is_set() and n < 200:
                    write_transaction(
                        writer,
                        lambda c, n=n: replace_day(
                            c, "2026-11-20", ranks("2026-11-20", 20, f"w{n}")
                        ),
                        what="the writer",
                    )
                    n += 1
        except BaseException as error:  # collected for the assertion below
            failures.append(error)

    writer = threading.Thread(target=write_continuously)
    writer.start()
    # Snapshots expire after 5 s, their files go 2 s later: far longer than the writer's
    # reads, as the grace must be, and short enough that both happen while it writes.
    job = build_lake_maintenance_job(
        AutomationSettings(snapshot_retention_hours=5 / 3600, file_grace_minutes=2 / 60)
    )
    resources = {"warehouse": WarehouseResource(catalog=lake.catalog, data_path=lake.data_path)}
    try:
        results = [job.execute_in_process(resources=resources) for _ in range(3)]
    finally:
        stop.set()
        writer.join(timeout=120)

    assert failures == []
    assert all(result.success for result in results)
    assert query(
        lake_folder(lake), "SELECT count(*), count(DISTINCT session_id) FROM top_sessions"
    ) == [(20, 1)]
