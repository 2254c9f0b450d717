"""The instance's run launcher: Dagster's own, plus a health check of each run's process.

Dagster's run monitoring can only tell that a run's process died when the run launcher
checks it, and the `DefaultRunLauncher` (a process per run on this machine) checks
nothing: a run killed with SIGKILL, or whose machine went down, stays STARTED for ever
and keeps its pool slots, so the runs queued behind them never start. This launcher
launches runs exactly as the default one does, and tells the monitoring daemon whether
the process that executes a run still lives: the process each run recorded in its first
engine event with a pid (the run worker of a launched run, the `dagster asset
materialize` or Python process of a run started by hand). dagster.yaml names it.
"""

import json
import os
import socket
from pathlib import Path

import dagster as dg

# The health check's answer type and the run's code server address are not exported:
# RunLauncher.check_run_worker_health is a public hook that must return this type.
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

# Linux's view of a process: its state and start time (`man 5 proc`), and the boot time.
_PROC = Path("/proc")
# Clock ticks per second, the unit of a process's start time in /proc/<pid>/stat.
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# Addresses of a code server on this machine, whose runs' processes can be seen here.
_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1", socket.gethostname()}


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Dagster's DefaultRunLauncher that lets run monitoring see a run's process die."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        """RUNNING while the run's process lives (or cannot be seen from here), else FAILED."""
        if not runs_on_this_machine(run):
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, "the run's code server is on another machine"
            )
        recorded = run_process(self._instance, run.run_id)
        if recorded is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no process recorded yet")
        pid, recorded_at = recorded
        if process_alive(pid, started_by=recorded_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run's process (pid {pid}) is gone: it was killed or crashed, so its "
            "steps did not finish",
        )


def runs_on_this_machine(run: dg.DagsterRun) -> bool:
    """Whether the run's process is on this machine: started by hand here, or launched
    through a code server on this machine."""
    grpc_info = run.tags.get(GRPC_INFO_TAG)
    if grpc_info is None:
        return True
    host: str | None = json.loads(grpc_info).get("host")
    return host in _LOCAL_HOSTS


def run_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of the process executing the run, and when the run recorded it."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.event_specific_data if event else None
        pid = getattr(data, "metadata", {}).get("pid") if data else None
        if isinstance(pid, dg.TextMetadataValue) and pid.text and pid.text.isdigit():
            return int(pid.text), entry.timestamp
    return None


def process_alive(pid: int, started_by: float) -> bool:
    """Whether process `pid` runs, and is the one that existed at `started_by` (a Unix
    time), not a later process that was given the same pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    started_at = process_start_time(pid)
    if started_at is None:  # no procfs: trust the pid
        return True
    state, started = started_at
    # A zombie has exited and waits for its parent to collect it. A second of slack for
    # the rounding of boot time and ticks.
    return state != "Z" and started <= started_by + 1


def process_start_time(pid: int) -> tuple[str, float] | None:
    """A process's state letter and start time (Unix time) from procfs, None without it."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in (_PROC / "stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration):
        return None
    # The command name, in parentheses, may hold spaces: fields count from its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], boot + int(fields[19]) / _TICKS_PER_SECOND
