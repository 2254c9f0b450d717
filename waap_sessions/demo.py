"""The README's first command: the whole pipeline, through real Dagster runs, on the simulator.

It starts the built-in simulator on loopback and points the code location's resources
at it through the same environment variables a deployment sets. Then it evaluates the
domain sensor (which adds the domains it finds), runs the partition job for the last
days and today of every domain and the snapshot job, several runs at once, each in its
own `dagster` process writing the lake in parallel, and prints the two summary tables.
The runs are recorded in DAGSTER_HOME (`.dagster_home` by default), so `make ui` shows
them, and a second demo loads the same partitions again, exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from waap_sessions.assets import active_sessions, domain_partitions, request_partitions
from waap_sessions.automation import AutomationSettings, days_up_to, partition_runs
from waap_sessions.lake import LakeSettings
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.warehouse import connect

Printer = Callable[[str], None]
DEFAULT_DAGSTER_HOME = ".dagster_home"
# Runs at once, as dagster.yaml's run queue allows: each writes the lake in parallel.
PARALLEL_RUNS = 4


def simulator_environment(simulator: Simulator) -> dict[str, str]:
    """The environment that points every resource at the simulator."""
    config = simulator.config
    return {
        "GCORE_API_KEY": config.gcore_api_key,
        "GCORE_BASE_URL": simulator.base_url,
        "ACCESSWATCH_API_KEY": config.accesswatch_api_key,
        "ACCESSWATCH_BASE_URL": simulator.accesswatch_base_url,
        "APPGATE_URL": simulator.appgate_base_url,
        "APPGATE_USERNAME": config.appgate_username,
        "APPGATE_PASSWORD": config.appgate_password,
        "APPGATE_PROVIDER": config.appgate_provider,
    }


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then restore what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dagster_home() -> Path:
    """DAGSTER_HOME, set up with this repository's dagster.yaml when it has none."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and Path("dagster.yaml").exists():
        shutil.copy("dagster.yaml", home / "dagster.yaml")
    return home


def run_demo(config: SimulatorConfig | None = None, out: Printer = print) -> None:
    """Load the last days of every simulated domain and one snapshot of each source."""
    config = config or SimulatorConfig()
    home = dagster_home()
    with (
        Simulator(config) as simulator,
        environment({**simulator_environment(simulator), "DAGSTER_HOME": str(home)}),
    ):
        # Imported here: the definitions read the environment when they load.
        from waap_sessions.definitions import defs

        lake = LakeSettings.from_env()
        out(f"Simulator: {simulator.base_url}; Dagster instance: {home}")
        out(f"Lake: {lake.describe()}")
        with dg.DagsterInstance.get() as instance:
            new_domains = discover_domains(defs, instance)
            domains = domain_partitions.get_partition_keys(dynamic_partitions_store=instance)
            days = days_up_to(datetime.now(UTC), AutomationSettings.from_env().backfill_days + 1)
            keys = [run.partition_key for run in partition_runs(days, domains)]
            out(
                f"The domain sensor found {len(new_domains)} new domains; loading "
                f"{len(keys)} partitions (the last days and today of every domain), "
                f"{PARALLEL_RUNS} runs at a time, each in its own process."
            )
            commands = {str(key): [partition_launch(str(key))] for key in keys}
            # The automation sensor refreshes active_sessions, checks included, after the
            # snapshots; the demo has no daemon running, so it runs it itself.
            commands["snapshots"] = [
                Launch(["job", "execute", "-j", "snapshot_job"], "snapshot_job"),
                Launch(
                    ["asset", "materialize", "--select", active_sessions.key.to_user_string()],
                    "__ASSET_JOB",
                ),
            ]
            started, wall_clock = time.monotonic(), time.time()
            with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
                pending = {
                    pool.submit(run_in_processes, instance, name, steps): name
                    for name, steps in commands.items()
                }
                for done in as_completed(pending):
                    out(f"  {pending[done]}: {done.result()}")
            out(
                f"{len(commands)} loads in {time.monotonic() - started:.0f} s; at most "
                f"{most_runs_at_once(instance, wall_clock)} runs wrote the lake at once."
            )
        show_summaries(lake, out)


@dataclass(frozen=True)
class Launch:
    """One `dagster` command, and what finds the run it makes: its job and tags."""

    arguments: list[str]
    job: str
    tags: dict[str, str] = field(default_factory=dict)


def partition_launch(key: str) -> Launch:
    """`dagster job execute` of gcore_partition_job for one partition, as a schedule's run."""
    tags = request_partitions.get_tags_for_partition_key(
        request_partitions.get_partition_key_from_str(key)
    )
    arguments = ["job", "execute", "-j", "gcore_partition_job", "--tags", json.dumps(tags)]
    return Launch(arguments, "gcore_partition_job", dict(tags))


def run_in_processes(instance: dg.DagsterInstance, name: str, steps: list[Launch]) -> str:
    """Run each `dagster` command in turn in its own process; describe what the runs did."""
    dagster = Path(sys.executable).with_name("dagster")
    outcomes = []
    for step in steps:
        started = _utc(time.time())
        finished = subprocess.run(  # noqa: S603 (our own dagster, our own arguments)
            [str(dagster), *step.arguments, "-m", "waap_sessions.definitions"],
            capture_output=True,
            text=True,
            check=False,
        )
        runs = instance.get_run_records(
            filters=dg.RunsFilter(job_name=step.job, tags=step.tags, created_after=started),
            limit=1,
        )
        if not runs:
            return f"failed to start: {finished.stderr.strip().splitlines()[-1:]}"
        outcomes.append(_outcome(instance, runs[0].dagster_run.run_id))
    return "; ".join(outcomes)


def most_runs_at_once(instance: dg.DagsterInstance, started_at: float) -> int:
    """How many of the runs since `started_at` were running at the same moment, at most."""
    records = instance.get_run_records(filters=dg.RunsFilter(created_after=_utc(started_at)))
    spans = [(r.start_time, r.end_time) for r in records if r.start_time and r.end_time]
    moments = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, change in moments:
        running += change
        most = max(most, running)
    return most


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def discover_domains(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[str]:
    """One tick of the domain sensor, as the daemon runs it; returns the domains it added."""
    known = set(domain_partitions.get_partition_keys(dynamic_partitions_store=instance))
    sensor = defs.resolve_sensor_def("gcore_domain_sensor")
    with dg.build_sensor_context(
        instance=instance,
        # As the daemon does: the sensor's partition keys are checked against the instance.
        instance_ref=instance.get_ref(),
        resources=defs.resources,
        definitions=defs,
    ) as context:
        result = sensor.evaluate_tick(context)
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    found = domain_partitions.get_partition_keys(dynamic_partitions_store=instance)
    return sorted(set(found) - known)


def _outcome(instance: dg.DagsterInstance, run_id: str) -> str:
    """What one run wrote and how its checks went, from the instance's event log."""
    events = [
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(run_id).records
        if record.event_log_entry.dagster_event is not None
    ]
    written = sum(event.is_step_materialization for event in events)
    checks = [
        event.asset_check_evaluation_data
        for event in events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    failed = sorted(check.check_name for check in checks if not check.passed)
    run = instance.get_run_by_id(run_id)
    status = "" if run is None or run.status == dg.DagsterRunStatus.SUCCESS else " (run failed)"
    outcome = f"{written} tables written"
    if checks:
        outcome += f", {len(checks) - len(failed)} of {len(checks)} checks passed"
    return outcome + (f" (failed: {', '.join(failed)})" if failed else "") + status


def show_summaries(lake: LakeSettings, out: Printer) -> None:
    """Print yesterday's top sessions of each domain and the latest active sessions."""
    with connect(read_only=True, settings=lake) as connection:
        top = connection.execute(
            "SELECT domain_id, day, rank, session_id, requests, blocked, "
            "round(duration_s) AS duration_s, client_ip, country, user_agent_client "
            "FROM top_sessions WHERE day = (SELECT max(day) - 1 FROM top_sessions) "
            "ORDER BY domain_id, rank"
        ).df()
        active = connection.execute(
            "SELECT source, dimension, value, sessions FROM active_sessions "
            "WHERE snapshot_at IN (SELECT max(snapshot_at) FROM active_sessions GROUP BY source) "
            "AND dimension IN ('total', 'country', 'reputation_status', 'support_status') "
            "QUALIFY row_number() OVER (PARTITION BY source, dimension ORDER BY sessions DESC) "
            "<= 3 "
            "ORDER BY source, dimension, sessions DESC"
        ).df()
    out(_table("\nTop sessions (yesterday, per domain)", top))
    out(_table("Active sessions (latest snapshot; top 3 per dimension)", active))
    out("Read them from any DuckDB client (see the README) or in the Dagster UI: make ui")


def _table(title: str, frame: pd.DataFrame) -> str:
    body = frame.to_string(index=False, na_rep="-") if len(frame) else "(none)"
    return f"{title}\n{body}\n"
