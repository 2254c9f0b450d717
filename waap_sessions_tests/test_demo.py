"""The README's first command runs end to end, as a user runs it: runs through the instance."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from waap_sessions.demo import (
    STARTUP_TIMEOUT_S,
    environment,
    local_dagster,
    simulator_environment,
)
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions_tests.conftest import query

ROOT = Path(__file__).resolve().parents[1]
# What the UI's "Re-execute all" sends (launchPipelineReexecution, strategy ALL_STEPS).
REEXECUTE_ALL = """
mutation Reexecute($parentRunId: String!) {
  launchPipelineReexecution(
    reexecutionParams: {parentRunId: $parentRunId, strategy: ALL_STEPS}
  ) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""
PARTITION_TAGS = ("dagster/partition", "dagster/partition/date", "dagster/partition/domain")


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


def wait_for_run(instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish in {timeout_s} s")


def test_the_demo_loads_every_table_through_the_instance_in_parallel_and_again_exactly(
    tmp_path, monkeypatch
):
    lake, home = tmp_path / "lake", tmp_path / "dagster_home"
    settings = {
        "DAGSTER_HOME": str(home),
        "WAAP_DUCKLAKE_CATALOG": f"sqlite:{lake}/catalog.sqlite",
        "WAAP_DUCKLAKE_DATA_PATH": f"{lake}/data",
        "WAAP_BACKFILL_DAYS": "1",
    }
    # The demo's simulator, for its domains' names and to serve a re-execution later.
    simulator = Simulator(SimulatorConfig())
    names = {str(domain.id): domain.name for domain in simulator.dataset.domains}

    first = run_demo(settings)

    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout
    assert "found 3 new domains" in out
    assert "Traceback" not in first.stderr
    # 3 domains x (1 day + today), the snapshots, then active_sessions: each printed as it
    # ends, numbered, with what it wrote and its checks.
    progress = re.findall(r"^ {2}loaded (\d+)/8: (.+)$", out, flags=re.MULTILINE)
    assert sorted(int(done) for done, _ in progress) == list(range(1, 9))
    assert all(re.search(r"; (\d+)/\1 checks passed$", line) for _, line in progress)
    assert "failed" not in out
    # Each partition beside its domain's name, as the Gcore domains API gives it.
    labels = re.findall(r"^ {2}loaded \d+/8: \d{4}-\d\d-\d\d\|(\d+) \((.+?)\):", out, re.MULTILINE)
    assert sorted(labels) == sorted(list(names.items()) * 2)
    runs_at_once = int(out.split("at most ")[1].split(" runs wrote the lake at once")[0])
    assert runs_at_once >= 2
    assert "Top sessions (yesterday, per domain)" in out
    assert "Active sessions (latest snapshot" in out
    assert query(lake, "SELECT count(DISTINCT (day, domain_id)) FROM gcore_requests") == [(6,)]
    # Ten sessions a partition, or all of them: just after midnight today has few.
    assert query(lake, "SELECT count(*) FROM top_sessions") == query(
        lake,
        "SELECT sum(least(10, sessions)) FROM (SELECT day, domain_id, count(DISTINCT "
        "session_id) FILTER (WHERE session_id <> '') AS sessions FROM gcore_requests GROUP BY ALL)",
    )
    assert query(lake, "SELECT count(*) FROM top_sessions WHERE day < current_date") == [(30,)]
    assert query(lake, "SELECT count(DISTINCT source) FROM active_sessions") == [(2,)]
    rows = query(lake, "SELECT count(*) FROM gcore_requests")

    second = run_demo(settings)

    assert second.returncode == 0, second.stderr[-3000:]
    assert "found 0 new domains" in second.stdout
    assert second.stdout.count("  loaded ") == 8
    assert query(lake, "SELECT count(*) - count(DISTINCT id) FROM gcore_requests") == [(0,)]
    # Today's partitions may have grown in between; the past ones are replaced exactly.
    assert query(lake, "SELECT count(*) FROM gcore_requests")[0][0] >= rows[0][0]

    # Every run went through the instance as a deployment's do: with its code location's
    # origin, under its job, so the UI lists and re-executes it.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert all(run.remote_job_origin is not None for run in runs)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        jobs = sorted(run.job_name for run in runs)
        assert jobs == sorted(["gcore_partition_job"] * 12 + ["snapshot_job", "__ASSET_JOB"] * 2)
        yesterday = next(
            run
            for run in runs
            if run.job_name == "gcore_partition_job"
            and run.tags["dagster/partition/date"] < time.strftime("%Y-%m-%d", time.gmtime())
        )
        day, domain = yesterday.tags["dagster/partition"].split("|")
        partition_rows = (
            f"SELECT count(*), count(DISTINCT id) FROM gcore_requests "
            f"WHERE day = DATE '{day}' AND domain_id = {domain}"
        )
        before = query(lake, partition_rows)

        # A demo run re-executes from the instance as the UI does it.
        with (
            simulator,
            environment({**settings, **simulator_environment(simulator)}),
            local_dagster(tmp_path / "dagster.log") as dagster,
        ):
            dagster.wait_until_loaded(STARTUP_TIMEOUT_S)
            launched = dagster.graphql(REEXECUTE_ALL, {"parentRunId": yesterday.run_id})
            result = launched["launchPipelineReexecution"]
            assert result["__typename"] == "LaunchRunSuccess", result
            rerun = wait_for_run(instance, result["run"]["runId"], timeout_s=180)

    assert rerun.status == dg.DagsterRunStatus.SUCCESS
    assert rerun.job_name == "gcore_partition_job"
    assert rerun.remote_job_origin is not None
    assert rerun.parent_run_id == yesterday.run_id
    assert rerun.root_run_id == (yesterday.root_run_id or yesterday.run_id)
    assert {tag: rerun.tags[tag] for tag in PARTITION_TAGS} == {
        tag: yesterday.tags[tag] for tag in PARTITION_TAGS
    }
    # It replaced the partition, exactly: a past day's requests do not change.
    assert query(lake, partition_rows) == before
