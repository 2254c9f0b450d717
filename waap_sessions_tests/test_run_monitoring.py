"""Run monitoring: a run whose process is killed is marked failed, the pool slot it held is
freed, the run queued behind it starts, a launched run that was killed is retried, and a
run past its maximum runtime is terminated.

Real processes throughout, with the repository's dagster.yaml: a `dagster-daemon run`, a
run started by hand (`dagster asset materialize`) and runs launched into the queue
(`dagster job launch`), all writing in one pool of one slot (`WAAP_POOL`), as a team
that lets one writer at a time into the lake configures it. Each is killed with SIGKILL
while it reads the simulator, holding the slot. With Dagster's defaults (checked: the
dagster.yaml before run monitoring), the run started by hand stays STARTED, its slot
stays taken and nothing queued ever starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME, partition_key, request_partitions
from waap_sessions.run_launcher import (
    GRPC_INFO_TAG,
    process_alive,
    process_start_time,
    run_process,
    runs_on_this_machine,
)
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.simulator.gcore import ANALYTICS_PATH
from waap_sessions.warehouse import GCORE_REQUESTS
from waap_sessions_tests.test_backfills import (
    BIN,
    Selection,
    environment,
    expected_rows,
    lake_rows,
    start,
    stop,
)

# The tests that kill runs share a worker: each starts many processes, and side by side
# they would starve each other of the machine's cores.
pytestmark = pytest.mark.xdist_group("crash")

# Three domains, one complete day each: a page of 100 rows takes half a second to answer,
# so each run is caught reading.
SIMULATION = SimulatorConfig(seed=31, domains=3, days=1, requests_per_day=400)
POOL = "lake_writers"
# The test's instance: the repository's dagster.yaml, the pool limited to one slot, and
# the monitoring daemon looking every second and freeing a dead run's slots a second
# after it is marked failed (dagster.yaml: 30 s and 60 s).
INSTANCE_OVERRIDES: dict[str, dict[str, Any]] = {
    "concurrency": {"pools": {"default_limit": 1}},
    "run_monitoring": {"poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 1},
}
# Generous: the code location loads in each run's process, on a busy machine.
TIMEOUT_S = 240
# Dagster's run tags (dagster._core.storage.tags, not exported).
PARENT_RUN_TAG = "dagster/parent_run_id"
RETRY_NUMBER_TAG = "dagster/retry_number"
MAX_RUNTIME_TAG = "dagster/max_runtime"


@pytest.fixture(scope="module")
def slow_simulator() -> Iterator[Simulator]:
    with Simulator(SIMULATION) as running:
        running.faults.latency_s = 0.5
        running.faults.path_prefix = ANALYTICS_PATH
        yield running


def instance_home(env: Mapping[str, str]) -> Path:
    """Applies INSTANCE_OVERRIDES to the copy of dagster.yaml in the environment's home."""
    config_file = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    config = yaml.safe_load(config_file.read_text())
    for section, values in INSTANCE_OVERRIDES.items():
        config.setdefault(section, {}).update(values)
    config_file.write_text(yaml.safe_dump(config))
    return config_file.parent


def wait_for(
    what: str, found: Callable[[], Any], timeout_s: float = TIMEOUT_S, poll_s: float = 0.1
) -> Any:
    """`found()`'s first true answer, polled; fails naming `what` if none comes in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if answer := found():
            return answer
        time.sleep(poll_s)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def reading(simulator: Simulator, domain: int) -> bool:
    """Whether the simulator answered a request-analytics page of `domain`."""
    return any(
        call.path == ANALYTICS_PATH and str(domain) in call.query_params.values()
        for call in list(simulator.request_log)
    )


def descendants(pid: int) -> list[int]:
    """`pid` and every process under it, from procfs."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL to a process and everything under it, as when a machine runs out of memory."""
    for process in descendants(pid):
        with suppress(ProcessLookupError):
            os.kill(process, signal.SIGKILL)


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus | None:
    run = instance.get_run_by_id(run_id)
    return run.status if run else None


def launch(
    env: Mapping[str, str],
    run_id: str,
    key: dg.MultiPartitionKey,
    log: Path,
    tags: Mapping[str, str] | None = None,
):
    """`dagster job launch` of one partition of gcore_partition_job, into the run queue."""
    tags = {**request_partitions(SIMULATION_START).get_tags_for_partition_key(key), **(tags or {})}
    command = [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml"]
    command += ["-j", "gcore_partition_job", "--run-id", run_id, "--tags", json.dumps(tags)]
    return start(command, env, log)


SIMULATION_START = (SIMULATION.now - timedelta(days=SIMULATION.days)).date()


def test_a_killed_run_is_failed_its_slot_freed_and_a_launched_one_retried(
    slow_simulator: Simulator, tmp_path: Path
) -> None:
    simulator = slow_simulator
    day = SIMULATION_START
    by_hand, queued, killed = (domain.id for domain in simulator.dataset.domains)
    env = {**environment(simulator, tmp_path), "WAAP_POOL": POOL}
    home = instance_home(env)
    queued_run, killed_run = str(uuid.uuid4()), str(uuid.uuid4())
    processes: list[subprocess.Popen[bytes]] = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(
            DOMAINS_PARTITIONS_NAME, [str(domain.id) for domain in simulator.dataset.domains]
        )
        try:
            daemon = [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"]
            processes.append(start(daemon, env, tmp_path / "daemon.log"))
            # A run started by hand, in the pool, killed while it reads: nothing but the
            # monitoring daemon can see that its process is gone.
            command = [str(BIN / "dagster"), "asset", "materialize"]
            command += ["-m", "waap_sessions.definitions", "--select", GCORE_REQUESTS.name]
            command += ["--partition", str(partition_key(day, by_hand))]
            manual = start(command, env, tmp_path / "manual.log")
            wait_for("the run started by hand reads", lambda: reading(simulator, by_hand))
            (manual_run,) = instance.get_runs()
            kill_tree(manual.pid)
            manual.wait()

            # Two runs queued behind its slot: one to succeed, one to be killed and retried.
            launches = [
                launch(env, run_id, partition_key(day, domain), tmp_path / f"{run_id}.log")
                for run_id, domain in ((queued_run, queued), (killed_run, killed))
            ]
            for process in launches:
                assert process.wait(timeout=TIMEOUT_S) == 0
            wait_for("the run to kill reads", lambda: reading(simulator, killed))
            recorded = wait_for("its process", lambda: run_process(instance, killed_run))
            kill_tree(recorded[0])

            wait_for(
                "the queued run succeeds",
                lambda: status(instance, queued_run) == dg.DagsterRunStatus.SUCCESS,
            )
            retry = wait_for(
                "the killed run's retry succeeds",
                lambda: next(
                    (
                        run
                        for run in instance.get_runs(
                            dg.RunsFilter(tags={PARENT_RUN_TAG: killed_run})
                        )
                        if run.status == dg.DagsterRunStatus.SUCCESS
                    ),
                    None,
                ),
            )
            # A run that outlasts its maximum runtime (here a tag of 3 s; dagster.yaml sets
            # 4 hours for every run) is terminated by the monitoring daemon: answers that
            # take 30 s would hold its slot far longer.
            simulator.faults.latency_s = 30
            stuck_run = str(uuid.uuid4())
            stuck = launch(
                env,
                stuck_run,
                partition_key(day, by_hand),
                tmp_path / "stuck.log",
                tags={MAX_RUNTIME_TAG: "3"},
            )
            assert stuck.wait(timeout=TIMEOUT_S) == 0
            wait_for(
                "the stuck run is failed for its runtime",
                lambda: status(instance, stuck_run) == dg.DagsterRunStatus.FAILURE,
            )
        finally:
            simulator.faults.latency_s = 0.5
            stop(processes)
        assert any(
            "Exceeded maximum runtime of 3 seconds" in (entry.message or "")
            for entry in instance.all_logs(stuck_run)
        )
        # Both killed runs were marked failed; only the launched one can be run again
        # (a run started by hand has no code location to run it from).
        assert status(instance, manual_run.run_id) == dg.DagsterRunStatus.FAILURE
        assert status(instance, killed_run) == dg.DagsterRunStatus.FAILURE
        assert retry.tags[RETRY_NUMBER_TAG] == "1"
    expected = expected_rows(
        simulator, Selection(days=(day,), domains=(str(queued), str(killed)), known=())
    )
    assert lake_rows(tmp_path, GCORE_REQUESTS.name) == expected


# The launcher's health check, on processes of this test


# A process that lives a minute unless killed.
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_live_process_is_alive_and_a_reaped_or_unreaped_dead_one_is_not() -> None:
    assert process_alive(os.getpid(), started_by=time.time())
    reaped = subprocess.Popen(SLEEPER)
    reaped.kill()
    reaped.wait()
    assert not process_alive(reaped.pid, started_by=time.time())
    zombie = subprocess.Popen(SLEEPER)
    os.kill(zombie.pid, signal.SIGKILL)
    wait_for("the zombie", lambda: process_start_time(zombie.pid)[0] == "Z")
    assert not process_alive(zombie.pid, started_by=time.time())
    zombie.wait()


def test_a_pid_given_to_a_later_process_is_not_the_run_s() -> None:
    # The run recorded this pid an hour before this process started: another process.
    assert not process_alive(os.getpid(), started_by=time.time() - 3600 - time.monotonic())


@pytest.mark.parametrize(
    ("grpc_info", "local"),
    [
        (None, True),
        ({"host": "localhost", "port": 4000}, True),
        ({"socket": "/tmp/dagster-grpc.sock"}, True),
        ({"host": "code.example.com", "port": 4000}, False),
    ],
)
def test_only_runs_on_this_machine_are_checked(grpc_info, local) -> None:
    tags = {} if grpc_info is None else {GRPC_INFO_TAG: json.dumps(grpc_info)}
    run = dg.DagsterRun(job_name="gcore_partition_job", run_id=str(uuid.uuid4()), tags=tags)
    assert runs_on_this_machine(run) is local
