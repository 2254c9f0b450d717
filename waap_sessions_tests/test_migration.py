"""`waap-sessions migrate` moves an earlier version's DuckDB file into the lake exactly."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from waap_sessions.gcore import RequestSummary
from waap_sessions.lake import open_lake
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.staging import staged_requests
from waap_sessions.summaries import refresh_active_sessions, refresh_top_sessions
from waap_sessions.warehouse import (
    GCORE_REQUESTS,
    TABLES,
    create_tables,
    replace_partition,
)
from waap_sessions_tests.conftest import lake_settings

CONFIG = SimulatorConfig(seed=11, domains=2, days=2, requests_per_day=1500)
DAY = CONFIG.now.date() - timedelta(days=1)


def load_old_file(path: Path, simulator: Simulator) -> None:
    """A DuckDB file as earlier versions wrote it: every table, a day of each domain."""
    with duckdb.connect(str(path)) as old:
        old.execute("SET TimeZone = 'UTC'")
        create_tables(old)
        for domain in simulator.dataset.domains:
            rows = [
                RequestSummary.model_validate(row)
                for row in simulator.dataset.requests(domain.id)
                if _day_of(row["request_time"]) == DAY
            ]
            with staged_requests() as staged:
                staged.add(rows)
                partition = {"day": DAY, "domain_id": domain.id}
                replace_partition(
                    old, GCORE_REQUESTS, partition, staged.as_rows(DAY, datetime.now(UTC))
                )
            refresh_top_sessions(old, DAY, domain.id)
        old.execute(
            "INSERT INTO gcore_ip_top_sessions SELECT domain_id, day, client_ip, 1, session_id, "
            "count(*), 0, 60.0, min(request_time), now() FROM gcore_requests "
            "WHERE session_id <> '' GROUP BY ALL LIMIT 20"
        )
        old.execute(
            "INSERT INTO appgate_active_sessions VALUES "
            "('2026-11-19 10:00:00+00', 3, "
            "[{'country_code': 'DE', 'continent_code': 'EU', 'latitude': 52.5, "
            "'longitude': 13.4, 'session_count': 3, 'ips': ['10.0.0.1']}], "
            "[{'client_version': '6.3.1', 'support_status': 'full', 'session_count': 3}])"
        )
        old.execute(
            "INSERT INTO accesswatch_sessions (snapshot_at, session_id, requests, identity_id, "
            "ip, reputation_status, address_flags) VALUES "
            "('2026-11-19 10:00:00+00', 'aw-1', 12, 'id-1', '192.0.2.1', 'ok', ['vpn']), "
            "('2026-11-19 10:00:00+00', 'aw-2', 40, 'id-2', '192.0.2.2', 'bad', NULL)"
        )
        refresh_active_sessions(old)


def _day_of(millis: int) -> date:
    return datetime.fromtimestamp(millis / 1000, UTC).date()


def migrate(old_file: Path, lake: Path) -> subprocess.CompletedProcess[str]:
    settings = lake_settings(lake)
    return subprocess.run(
        [str(Path(sys.executable).with_name("waap-sessions")), "migrate", "--from", str(old_file)],
        env={
            **os.environ,
            "WAAP_DUCKLAKE_CATALOG": settings.catalog,
            "WAAP_DUCKLAKE_DATA_PATH": settings.data_path,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def differences(old_file: Path, lake: Path) -> dict[str, tuple[int, int, int]]:
    """Per table: rows in the file, rows in the lake, rows of either missing from the other."""
    with open_lake(lake_settings(lake), read_only=True) as connection:
        connection.execute(f"ATTACH '{old_file}' AS old (READ_ONLY)")
        found = {}
        for table in TABLES:
            old, new = f"old.main.{table.name}", f"waap.main.{table.name}"
            counts = connection.execute(
                f"SELECT (SELECT count(*) FROM {old}), (SELECT count(*) FROM {new}), "
                f"(SELECT count(*) FROM (FROM {old} EXCEPT ALL FROM {new})) "
                f"+ (SELECT count(*) FROM (FROM {new} EXCEPT ALL FROM {old}))"
            ).fetchone()
            assert counts is not None
            found[table.name] = counts
        return found


@pytest.fixture(scope="module")
def old_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("old") / "waap_sessions.duckdb"
    with Simulator(CONFIG) as simulator:
        load_old_file(path, simulator)
    return path


def test_the_old_file_moves_into_the_lake_exactly_and_only_once(old_file, tmp_path):
    before = old_file.read_bytes()

    first = migrate(old_file, tmp_path / "lake")

    assert first.returncode == 0, first.stderr
    found = differences(old_file, tmp_path / "lake")
    assert all(rows > 0 for rows, _, _ in found.values()), found
    assert all(old == new and missing == 0 for old, new, missing in found.values()), found
    requests = found[GCORE_REQUESTS.name][0]
    assert f"{GCORE_REQUESTS.name:<24} {requests:>12,} {requests:>10,} {0:>16,}" in first.stdout
    total = sum(rows for rows, _, _ in found.values())
    assert f"Moved {total:,} rows" in first.stdout
    assert old_file.read_bytes() == before

    again = migrate(old_file, tmp_path / "lake")

    assert again.returncode == 0, again.stderr
    assert "Moved 0 rows" in again.stdout
    assert differences(old_file, tmp_path / "lake") == found


def test_a_missing_file_is_named_and_nothing_is_written(tmp_path):
    finished = migrate(tmp_path / "nowhere.duckdb", tmp_path / "lake")

    assert finished.returncode == 2
    assert finished.stderr == (
        "waap-sessions migrate: error: argument --from: must name an existing DuckDB file "
        f"(got '{tmp_path / 'nowhere.duckdb'}') (see waap-sessions migrate --help)\n"
    )
    assert not (tmp_path / "lake").exists(), "the lake is not even created"
