"""Crash safety: runs killed with SIGKILL while they fetch, write or check, 20 times, leave
the lake readable and exact, and a re-run completes them.

Each run loads one gcore_requests partition (gcore_partition_job, in process), and runs
its checks when it is to be killed in them, in a process of its own forked from a server
that imported Dagster and the code location once: a fresh interpreter per run would cost
seconds each. The kill points
come from a seeded RNG, spread evenly over three phases, each recognised from outside the
run as it happens:
- fetching: the simulator answered the run's n-th request page;
- writing: the run's first new Parquet file appeared in the lake (its transaction writes
  the files, then commits);
- checking: the run's event log shows its check step started.
Every run reloads its partition (`reload_unchanged`), so each kill interrupts a real
replacement of rows the lake already holds. After each kill, every partition must hold
exactly what a clean load wrote (the killed run's partition too: its old rows or its new
ones, never a mix or none), and every other partition must be untouched, down to the
time it was loaded.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import dagster as dg
import pytest

from waap_sessions.lake import engine_connection
from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME, partition_key
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.simulator.dataset import to_ms
from waap_sessions.simulator.gcore import ANALYTICS_PATH
from waap_sessions.warehouse import (
    GCORE_REQUESTS,
    PARTITION_LOADS,
)
from waap_sessions_tests.conftest import lake_settings, query
from waap_sessions_tests.test_backfills import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    ROOT,
    check_results,
    environment,
)
from waap_sessions_tests.test_run_monitoring import wait_for as waited_for

# The tests that kill runs share a worker: each starts many processes, and side by side
# they would starve each other of the machine's cores.
pytestmark = pytest.mark.xdist_group("crash")

# Two domains, two complete days (the runs kill the first day's partitions, the second
# day's must stay untouched), three pages a partition; every answer 50 ms late, so a run
# is caught with requests in flight.
SIMULATION = SimulatorConfig(seed=41, domains=2, days=2, requests_per_day=300)
LATENCY_S = 0.05
KILLS = 20
SEED = 2026
# The column that says when a row was written, not what it holds: a reload changes it.
LOAD_TIME = "loaded_at"
RELOAD = {"ops": {GCORE_REQUESTS.name: {"config": {"reload_unchanged": True}}}}
ATTEMPT_TAG = "waap_test/attempt"
NO_CAPTURED_LOGS = """
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""
TIMEOUT_S = 120


def serve() -> None:
    """The fork server: reads one run a line (JSON), forks a process that executes it,
    prints `{"pid": ...}`, then `{"exit": ...}` when the process ended (-9: killed)."""
    # What each run would import on first use: imported once here, before forking.
    import duckdb  # noqa: F401

    import waap_sessions.staging  # noqa: F401
    from waap_sessions.definitions import defs
    from waap_sessions.gcore import GcoreWaapClient  # noqa: F401

    # gcore_requests with its checks, and without them (the runs not killed in the checks
    # skip them), each built and described once. JobDefinition.get_subset is what
    # execute_in_process(asset_selection=) calls; called here, its work is not redone
    # in every run.
    job = defs.resolve_job_def("gcore_partition_job")
    requests = {dg.AssetKey(GCORE_REQUESTS.name)}
    jobs = {
        True: job.get_subset(asset_selection=requests),
        False: job.get_subset(asset_selection=requests, asset_check_selection=set()),
    }
    for subset in jobs.values():
        subset.get_job_snapshot_id()
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            with dg.DagsterInstance.get() as instance:
                result = jobs[command["checks"]].execute_in_process(
                    instance=instance,
                    run_config=command["run_config"],
                    tags=command["tags"],
                    partition_key=command.get("partition"),
                    raise_on_error=False,
                )
            os._exit(0 if result.success else 1)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)


class ForkServer:
    """The test's side of `serve`: starts runs, and knows the running one's pid."""

    def __init__(self, env: Mapping[str, str], log: IO[bytes]) -> None:
        command = [sys.executable, "-c", f"from {__name__} import serve; serve()"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )

    def start(self, tags: Mapping[str, str], run_config: Mapping[str, Any], **more: Any) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        command = {"tags": tags, "run_config": run_config, **more}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        pid: int = json.loads(self.process.stdout.readline())["pid"]
        return pid

    def exit_code(self) -> int:
        """The last run's exit code, once it ended."""
        assert self.process.stdout is not None
        code: int = json.loads(self.process.stdout.readline())["exit"]
        return code

    def run(self, tags: Mapping[str, str], run_config: Mapping[str, Any], **more: Any) -> int:
        self.start(tags, run_config, **more)
        return self.exit_code()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass(frozen=True)
class KillPoint:
    """Where a run is killed: its phase and partition, and for a fetch which page."""

    phase: str  # "fetch", "write" or "check"
    partition: tuple[date, int]
    page: int = 0  # fetch: killed once the simulator answered this many pages


def kill_points(
    partitions: list[tuple[date, int]], pages: Callable[[date, int], int]
) -> list[KillPoint]:
    """KILLS kill points, a third in each phase, in the seeded RNG's order."""
    rng = random.Random(SEED)
    phases = (["fetch", "write", "check"] * KILLS)[:KILLS]
    rng.shuffle(phases)
    points = []
    for phase in phases:
        partition = rng.choice(partitions)
        page = rng.randint(1, pages(*partition)) if phase == "fetch" else 0
        points.append(KillPoint(phase, partition, page))
    return points


def wait_for(what: str, found: Callable[[], Any]) -> Any:
    """`found()`'s first true answer, polled every 10 ms, so a kill comes at once."""
    return waited_for(what, found, timeout_s=TIMEOUT_S, poll_s=0.01)


@dataclass(frozen=True)
class LakeState:
    """What the lake holds, read on one connection as any reader sees it."""

    # gcore_requests per (day, domain): row count and checksum of all but the load time.
    contents: dict[tuple[date, int], tuple[int, int]]
    # `waap_meta.partition_loads` per (table, day, domain), load time included.
    loads: dict[tuple[str, date, int], tuple[Any, ...]]

    @classmethod
    def read(cls, lake: Path) -> LakeState:
        kept = ", ".join(c.name for c in GCORE_REQUESTS.columns if c.name != LOAD_TIME)
        rows = f"SELECT day, domain_id, count(*), sum(hash(row({kept}))) FROM {GCORE_REQUESTS.name}"
        loads = "table_name, day, domain_id, row_count, api_reported_count, loaded_at"
        with engine_connection(lake_settings(lake), read_only=True) as connection:
            counted = connection.execute(f"{rows} GROUP BY ALL").fetchall()
            loaded = connection.execute(f"SELECT {loads} FROM {PARTITION_LOADS}").fetchall()
        return cls(
            contents={(day, domain): (count, int(sum_)) for day, domain, count, sum_ in counted},
            loads={(table, day, domain): tuple(rest) for table, day, domain, *rest in loaded},
        )


def request_ids(lake: Path) -> dict[tuple[date, int], list[str]]:
    sql = f"SELECT day, domain_id, list(id ORDER BY id) FROM {GCORE_REQUESTS.name} GROUP BY ALL"
    return {(day, domain): ids for day, domain, ids in query(lake, sql)}


def simulated_ids(simulator: Simulator, day: date, domain: int) -> list[str]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    records = simulator.dataset.records_between(
        domain, to_ms(start), to_ms(start + timedelta(days=1))
    )
    return sorted(record.summary["id"] for record in records)


def parquet_files(lake: Path) -> set[Path]:
    """The lake's Parquet files, committed or not."""
    return set((lake / "data").rglob("*.parquet"))


@pytest.fixture(scope="module")
def slow_simulator() -> Iterator[Simulator]:
    with Simulator(SIMULATION) as running:
        running.faults.latency_s = LATENCY_S
        yield running


def test_runs_killed_while_fetching_writing_or_checking_leave_the_tables_exact(
    slow_simulator: Simulator, tmp_path: Path
) -> None:
    simulator = slow_simulator
    env = environment(simulator, tmp_path)
    # Runs keep their logs in the event log only: capturing each run's output costs two
    # processes a run, which the kills would orphan.
    with (Path(env["DAGSTER_HOME"]) / "dagster.yaml").open("a") as config:
        config.write(NO_CAPTURED_LOGS)
    domains = [domain.id for domain in simulator.dataset.domains]
    today = simulator.config.now.date()
    days = [today - timedelta(days=back) for back in range(SIMULATION.days, 0, -1)]
    exact = {
        (day, domain): simulated_ids(simulator, day, domain) for day in days for domain in domains
    }
    # The runs kill the first day's partitions only; the others must stay untouched.
    victims = [(days[0], domain) for domain in domains]
    points = kill_points(victims, lambda day, domain: max(1, len(exact[(day, domain)]) // 100))
    with (
        dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance,
        (tmp_path / "runs.log").open("wb") as log,
    ):
        instance.add_dynamic_partitions(DOMAINS_PARTITIONS_NAME, [str(d) for d in domains])
        server = ForkServer(env, log)
        try:
            # A clean load of every partition: what the lake must hold after every kill.
            assert server.run(partition_range(days[0], days[-1], domains), {}, checks=False) == 0
            clean = before = LakeState.read(tmp_path)
            assert request_ids(tmp_path) == exact
            for attempt, kill in enumerate(points):
                kill_run(server, instance, simulator, tmp_path, kill, str(attempt))
                # Readable, exact, nothing half-written, nothing else touched.
                after = LakeState.read(tmp_path)
                assert after.contents == clean.contents, kill
                assert after.loads.keys() == clean.loads.keys(), kill
                for partition, load in before.loads.items():
                    if partition[1:] != kill.partition:
                        assert after.loads[partition] == load, (kill, partition)
                    else:  # its old load or the killed run's: the same rows either way
                        assert after.loads[partition][:2] == load[:2], (kill, partition)
                before = after

            # A re-run of the partitions the runs were killed in completes them.
            rerun = {**partition_range(days[0], days[0], domains), ATTEMPT_TAG: "rerun"}
            assert server.run(rerun, RELOAD, checks=True) == 0
        finally:
            server.close()
        (rerun_run,) = instance.get_runs(dg.RunsFilter(tags={ATTEMPT_TAG: "rerun"}))
        assert all(check_results(instance, rerun_run.run_id).values())
    assert LakeState.read(tmp_path).contents == clean.contents
    assert request_ids(tmp_path) == exact


def partition_range(first: date, last: date, domains: list[int]) -> dict[str, str]:
    """The tags of one run over days `first` to `last` of all `domains`."""
    return {
        RANGE_START_TAG: str(partition_key(first, domains[0])),
        RANGE_END_TAG: str(partition_key(last, domains[-1])),
    }


def kill_run(
    server: ForkServer,
    instance: dg.DagsterInstance,
    simulator: Simulator,
    lake: Path,
    kill: KillPoint,
    attempt: str,
) -> None:
    """Starts a run of the kill point's partition and kills it there."""
    tags = {ATTEMPT_TAG: attempt}
    files = parquet_files(lake)
    since = len(simulator.request_log)
    key = str(partition_key(*kill.partition))
    pid = server.start(tags, RELOAD, partition=key, checks=kill.phase == "check")
    if kill.phase == "fetch":
        wait_for(str(kill), lambda: answered(simulator, since) >= kill.page)
        os.kill(pid, signal.SIGKILL)
    elif kill.phase == "write":
        wait_for(str(kill), lambda: parquet_files(lake) - files)
        os.kill(pid, signal.SIGKILL)
    else:
        step = f"{GCORE_REQUESTS.name}_checks"
        # The event log is read every 50 ms, not 10: each look costs queries, and the
        # check step lasts longer than that.
        waited_for(
            str(kill),
            lambda: step in steps_started(instance, tags),
            timeout_s=TIMEOUT_S,
            poll_s=0.05,
        )
        os.kill(pid, signal.SIGKILL)
    assert server.exit_code() == -signal.SIGKILL, kill


def answered(simulator: Simulator, since: int) -> int:
    """How many request pages the simulator answered since its `since`-th call."""
    return sum(1 for call in simulator.request_log[since:] if call.path == ANALYTICS_PATH)


def steps_started(instance: dg.DagsterInstance, tags: Mapping[str, str]) -> list[str]:
    """The steps the run tagged `tags` started so far, in order."""
    runs = instance.get_runs(dg.RunsFilter(tags=dict(tags)))
    if not runs:
        return []
    records = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START)
    return [str(record.step_key) for record in records]
