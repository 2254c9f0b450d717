"""The README's first command runs end to end, as a user runs it: real Dagster runs."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def run_demo(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`waap-sessions demo`, as a user runs it, in its own process."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("waap-sessions")), "demo"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_main_job_loads_every_table_and_prints_the_summaries(tmp_path):
    database = tmp_path / "waap.duckdb"
    finished = run_demo(
        {"DAGSTER_HOME": str(tmp_path / "dagster_home"), "WAAP_DUCKDB_PATH": str(database)}
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    out = finished.stdout
    # 3 domains x (3 days + today)
    assert "found 3 new domains; loading 12 partitions" in out
    assert out.count("checks passed") == 14  # 12 partitions, the snapshots, active_sessions
    assert "failed" not in out
    assert "Top sessions (yesterday, per domain)" in out
    assert "Active sessions (latest snapshot" in out
    assert "Traceback" not in finished.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        partitions = connection.execute(
            "SELECT count(DISTINCT (day, domain_id)) FROM gcore_requests"
        ).fetchone()
        top = connection.execute("SELECT count(*) FROM top_sessions").fetchone()
        active = connection.execute("SELECT count(DISTINCT source) FROM active_sessions").fetchone()
    assert partitions == (12,)
    assert top == (12 * 10,)
    assert active == (2,)
    # The runs are real: recorded in the instance the UI reads.
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()


def test_a_second_demo_loads_the_same_partitions_again(tmp_path):
    environment = {
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "WAAP_DUCKDB_PATH": str(tmp_path / "waap.duckdb"),
        "WAAP_BACKFILL_DAYS": "1",
    }
    runs = [run_demo(environment) for _ in range(2)]

    assert [run.returncode for run in runs] == [0, 0], runs[-1].stderr[-3000:]
    assert "found 3 new domains; loading 6 partitions" in runs[0].stdout
    assert "found 0 new domains; loading 6 partitions" in runs[1].stdout
    with duckdb.connect(str(tmp_path / "waap.duckdb"), read_only=True) as connection:
        duplicates = connection.execute(
            "SELECT count(*) - count(DISTINCT id) FROM gcore_requests"
        ).fetchone()
    assert duplicates == (0,)
