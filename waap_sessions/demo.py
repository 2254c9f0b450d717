"""The README's first command: the whole pipeline on the simulator, run as a deployment runs it.

It starts the built-in simulator on loopback and points the code location's resources
at it through the same environment variables a deployment sets. It starts `dagster dev`
(webserver, daemon and code server) on DAGSTER_HOME; while that loads, one tick of the
domain sensor adds the domains it finds as partitions. Then it submits runs through the
GraphQL API, as the UI's launch buttons do: gcore_partition_job for the last days and
today of every domain, snapshot_job and, once that ends, active_sessions. The daemon's run
queue starts them (up to four at once, dagster.yaml), each in its own process, all writing
the lake in parallel; the demo prints each one as it ends, then the two summary tables and
the story of what the data shows (`story.py`).

Every run carries its code location's origin, so the UI (`make ui`, the same code
location through workspace.yaml) lists it under its job and re-executes it. The runs are
recorded in DAGSTER_HOME (`.dagster_home` by default), and a second demo loads the same
partitions again, exactly.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pandas as pd
from dagster_graphql import DagsterGraphQLClient

from waap_sessions.automation import AutomationSettings
from waap_sessions.lake import LakeSettings
from waap_sessions.partitions import days_up_to, domain_partitions, keys_of
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.story import read_story
from waap_sessions.warehouse import ACTIVE_SESSIONS, connect

Printer = Callable[[str], None]
DEFAULT_DAGSTER_HOME = ".dagster_home"
# The module workspace.yaml loads: the code location's name is the same, so the UI of
# `make ui` finds the job of every demo run and re-executes it. Named by module rather than
# by workspace.yaml, the demo also runs from an installed package, outside this repository.
CODE_LOCATION_MODULE = "waap_sessions.definitions"
FINISHED = {
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
}
# Loading the code location takes seconds; on a busy machine, a minute.
STARTUP_TIMEOUT_S = 180.0
LOCATIONS_QUERY = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


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


@dataclass(frozen=True)
class Load:
    """One run the demo submits, as the UI's Launch (a job) or Materialize (assets) does."""

    label: str
    job: str
    tags: Mapping[str, str] = field(default_factory=dict)
    assets: Sequence[str] | None = None
    # Submitted when this one ends, as declarative automation would follow it.
    then: Load | None = None


def run_demo(config: SimulatorConfig | None = None, out: Printer = print) -> None:
    """Load the last days of every simulated domain and one snapshot of each source."""
    config = config or SimulatorConfig()
    home = dagster_home()
    with (
        Simulator(config) as simulator,
        environment({**simulator_environment(simulator), "DAGSTER_HOME": str(home)}),
    ):
        # dagster dev loads the code location while the domain sensor ticks here. The
        # instance opens first: it creates the storage a new home lacks, which two
        # processes creating it at once would both stamp.
        started = time.monotonic()
        with (
            dg.DagsterInstance.get() as instance,
            local_dagster(home / "demo-dagster.log") as dagster,
        ):
            # Imported here: the definitions read the environment when they load.
            from waap_sessions.definitions import defs

            lake = LakeSettings.from_env()
            out(f"Simulator: {simulator.base_url}; Dagster instance: {home}")
            out(f"Lake: {lake.describe()}")
            names = domain_names(defs)
            new_domains = discover_domains(defs, instance)
            listed = ", ".join(f"{domain} ({name})" for domain, name in names.items())
            out(f"The domain sensor found {len(new_domains)} new domains; the account's: {listed}")
            loads = demo_loads(defs, instance, names)
            dagster.wait_until_loaded(STARTUP_TIMEOUT_S)
            out(
                f"Dagster (webserver, daemon, code server) on {dagster.url}, ready in "
                f"{time.monotonic() - started:.0f} s; its schedules and sensors are off."
            )
            out(
                f"Submitting runs as the UI does: {len(loads) - 1} partitions of "
                "gcore_partition_job (the last days and today of every domain), "
                "snapshot_job, then active_sessions; the run queue starts "
                f"{max_concurrent_runs(instance)} at once, each in its own process."
            )
            started = time.monotonic()
            run_ids = run_loads(dagster, instance, loads, out)
            out(
                f"{len(run_ids)} loads in {time.monotonic() - started:.0f} s; at most "
                f"{most_runs_at_once(instance, run_ids)} runs wrote the lake at once."
            )
        show_summaries(lake, out)
        show_story(lake, out)
        out("Read the tables from any DuckDB client (see the README) or in the Dagster UI: make ui")


def demo_loads(
    defs: dg.Definitions, instance: dg.DagsterInstance, names: Mapping[str, str]
) -> list[Load]:
    """One partition run of each of the last days of every domain, and the snapshots."""
    partitions = defs.resolve_job_def("gcore_partition_job").partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)
    first_day = partitions.get_partitions_def_for_dimension("date")
    assert isinstance(first_day, dg.TimeWindowPartitionsDefinition)
    backfill_days = AutomationSettings.from_env().backfill_days
    days = days_up_to(datetime.now(UTC), backfill_days + 1, first_day.start.date())
    domains = domain_partitions.get_partition_keys(dynamic_partitions_store=instance)
    snapshots = Load(
        "snapshot_job",
        "snapshot_job",
        # The implicit asset job, as the UI's Materialize button runs one asset.
        then=Load(ACTIVE_SESSIONS.name, "__ASSET_JOB", assets=[ACTIVE_SESSIONS.name]),
    )
    return [
        snapshots,
        *(
            Load(
                f"{key} ({names.get(key.keys_by_dimension['domain'], 'unknown')})",
                "gcore_partition_job",
                tags=partitions.get_tags_for_partition_key(key),
            )
            for key in keys_of(days, domains)
        ),
    ]


def domain_names(defs: dg.Definitions) -> dict[str, str]:
    """The account's domains, id to name, through the code location's own Gcore resource."""
    assert defs.resources is not None
    with (
        dg.build_resources({"gcore": defs.resources["gcore"]}) as resources,
        resources.gcore.get_client() as client,
    ):
        return {str(domain.id): domain.name for domain in client.iter_domains()}


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


@dataclass(frozen=True)
class LocalDagster:
    """`dagster dev` running in the background on loopback: its port, process and log."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> DagsterGraphQLClient:
        """Dagster's public GraphQL client, which launches runs as the UI does."""
        return DagsterGraphQLClient("127.0.0.1", port_number=self.port)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One request to the GraphQL API the UI uses, for what the client has no method for."""
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    def check_running(self) -> None:
        """Fail, with the end of its log, if dagster dev has stopped."""
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(
                f"dagster dev stopped (exit code {self.process.returncode}); "
                f"the end of {self.log}:\n" + "\n".join(tail)
            )

    def wait_until_loaded(self, timeout_s: float) -> None:
        """Wait until the webserver answers and the code location is loaded, or say why not."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_running()
            try:
                workspace = self.graphql(LOCATIONS_QUERY)["workspaceOrError"]
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            entries = workspace.get("locationEntries") or []
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                errors = [
                    entry["locationOrLoadError"]["message"]
                    for entry in entries
                    if entry["locationOrLoadError"]["__typename"] == "PythonError"
                ]
                if errors:
                    raise RuntimeError(f"The code location failed to load: {errors[0]}")
                return
            time.sleep(0.5)
        raise TimeoutError(f"dagster dev did not load the code location in {timeout_s:.0f} s")


@contextmanager
def local_dagster(log: Path) -> Iterator[LocalDagster]:
    """`dagster dev` on this process's DAGSTER_HOME and environment, until the block ends.

    Its schedules and sensors start stopped (WAAP_AUTOMATION_ENABLED=false), so the only
    runs are the ones submitted to it. Its output goes to `log`. It is starting when the
    block begins: `wait_until_loaded` before submitting anything.
    """
    port = _free_port()
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-m", CODE_LOCATION_MODULE, "-h", "127.0.0.1"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own dagster, our own arguments)
            [*command, "-p", str(port)],
            env={**os.environ, "WAAP_AUTOMATION_ENABLED": "false"},
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C reaches the demo, which stops it in order.
            start_new_session=True,
        )
    try:
        yield LocalDagster(port, process, log)
    finally:
        _stop(process)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop dagster dev as Ctrl-C does: it shuts its webserver, daemon and code server down."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_loads(
    dagster: LocalDagster, instance: dg.DagsterInstance, loads: Sequence[Load], out: Printer
) -> list[str]:
    """Submit every load, print each run as it ends; returns the run ids, in order."""
    client = dagster.client

    def submit(load: Load) -> str:
        return client.submit_job_execution(
            load.job,
            tags=dict(load.tags),
            asset_selection=list(load.assets) if load.assets is not None else None,
        )

    pending = {submit(load): load for load in loads}
    run_ids = list(pending)
    total = len(loads) + sum(load.then is not None for load in loads)
    done = 0
    while pending:
        dagster.check_running()
        ended = instance.get_run_records(
            filters=dg.RunsFilter(run_ids=list(pending), statuses=list(FINISHED))
        )
        for record in ended:
            run = record.dagster_run
            load = pending.pop(run.run_id)
            verb = "loaded" if run.status == dg.DagsterRunStatus.SUCCESS else "failed"
            done += 1
            out(f"  {verb} {done}/{total}: {load.label}: {describe_run(instance, run.run_id)}")
            if load.then is not None:
                run_id = submit(load.then)
                pending[run_id] = load.then
                run_ids.append(run_id)
        time.sleep(0.5)
    return run_ids


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    """The rows each asset of the run wrote and how its checks went, from the event log."""
    records = instance.get_records_for_run(
        run_id,
        of_type={
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        },
    ).records
    events = [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event]
    written = []
    for event in events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            metadata = materialization.metadata
            rows = metadata.get("waap/rows_written") or metadata.get("dagster/row_count")
            count = f" {rows.value:,} rows" if rows is not None else ""
            written.append(f"{materialization.asset_key.to_user_string()}{count}")
    checks = [
        event.asset_check_evaluation_data
        for event in events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    failed = sorted(check.check_name for check in checks if not check.passed)
    outcome = ", ".join(written) or "nothing written"
    if checks:
        outcome += f"; {len(checks) - len(failed)}/{len(checks)} checks passed"
    return outcome + (f" (failed: {', '.join(failed)})" if failed else "")


def max_concurrent_runs(instance: dg.DagsterInstance) -> str:
    """How many runs the instance's run queue starts at once (dagster.yaml)."""
    queue = instance.get_concurrency_config().run_queue_config
    limit = queue.max_concurrent_runs if queue else -1
    return str(limit) if limit >= 0 else "all"


def most_runs_at_once(instance: dg.DagsterInstance, run_ids: Sequence[str]) -> int:
    """How many of the runs were running at the same moment, at most."""
    records = instance.get_run_records(filters=dg.RunsFilter(run_ids=list(run_ids)))
    spans = [(r.start_time, r.end_time) for r in records if r.start_time and r.end_time]
    moments = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, change in moments:
        running += change
        most = max(most, running)
    return most


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


def show_story(lake: LakeSettings, out: Printer) -> None:
    """Print what the loaded data shows an analyst, from the lake alone (story.py)."""
    with connect(read_only=True, settings=lake) as connection:
        story = read_story(connection)
    out("\n".join(story.lines()) + "\n")


def _table(title: str, frame: pd.DataFrame) -> str:
    body = frame.to_string(index=False, na_rep="-") if len(frame) else "(none)"
    return f"{title}\n{body}\n"
