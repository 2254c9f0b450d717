"""The README's first command runs end to end, as a user runs it: real Dagster runs."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def test_the_main_job_loads_every_table_and_prints_the_summaries(tmp_path):
    script = Path(sys.executable).with_name("waap-sessions")
    database = tmp_path / "waap.duckdb"
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "WAAP_DUCKDB_PATH": str(database),
    }
    finished = subprocess.run(
        [str(script), "demo"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    out = finished.stdout
    assert "The domain sensor found 12 partitions to load." in out  # 3 domains x (3 days + today)
    assert out.count("checks passed") == 13
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
