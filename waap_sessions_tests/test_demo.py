"""The README's first command runs end to end, as a user runs it: real Dagster runs."""

import os
import subprocess
import sys
from pathlib import Path

from waap_sessions_tests.conftest import query

ROOT = Path(__file__).resolve().parents[1]


def run_demo(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`waap-sessions demo`, as a user runs it, in its own process."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("waap-sessions")), "demo"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def test_the_main_job_loads_every_table_in_parallel_runs_and_again_exactly(tmp_path):
    lake = tmp_path / "lake"
    environment = {
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "WAAP_DUCKLAKE_CATALOG": f"sqlite:{lake}/catalog.sqlite",
        "WAAP_DUCKLAKE_DATA_PATH": f"{lake}/data",
        "WAAP_BACKFILL_DAYS": "1",
    }
    first = run_demo(environment)

    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout
    # 3 domains x (1 day + today), 4 runs at a time
    assert "found 3 new domains; loading 6 partitions" in out
    assert out.count("checks passed") == 6 + 2  # the partitions, the snapshots, active_sessions
    assert "failed" not in out
    runs_at_once = int(out.split("at most ")[1].split(" runs wrote the lake at once")[0])
    assert runs_at_once >= 2
    assert "Top sessions (yesterday, per domain)" in out
    assert "Active sessions (latest snapshot" in out
    assert "Traceback" not in first.stderr
    assert query(lake, "SELECT count(DISTINCT (day, domain_id)) FROM gcore_requests") == [(6,)]
    # Ten sessions a partition, or all of them: just after midnight today has few.
    assert query(lake, "SELECT count(*) FROM top_sessions") == query(
        lake,
        "SELECT sum(least(10, sessions)) FROM (SELECT day, domain_id, count(DISTINCT "
        "session_id) FILTER (WHERE session_id <> '') AS sessions FROM gcore_requests GROUP BY ALL)",
    )
    assert query(lake, "SELECT count(*) FROM top_sessions WHERE day < current_date") == [(30,)]
    assert query(lake, "SELECT count(DISTINCT source) FROM active_sessions") == [(2,)]
    # The runs are real: recorded in the instance the UI reads.
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()
    rows = query(lake, "SELECT count(*) FROM gcore_requests")

    second = run_demo(environment)

    assert second.returncode == 0, second.stderr[-3000:]
    assert "found 0 new domains; loading 6 partitions" in second.stdout
    assert query(lake, "SELECT count(*) - count(DISTINCT id) FROM gcore_requests") == [(0,)]
    # Today's partitions may have grown in between; the past ones are replaced exactly.
    assert query(lake, "SELECT count(*) FROM gcore_requests")[0][0] >= rows[0][0]
