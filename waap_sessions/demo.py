"""The README's first command: the whole pipeline, through real Dagster runs, on the simulator.

It starts the built-in simulator on loopback and points the code location's resources
at it through the same environment variables a deployment sets. Then it evaluates the
domain sensor (which adds the domains it finds), runs the partition job for the last
days and today of every domain, runs the snapshot job, and prints the two summary
tables. The runs are recorded in DAGSTER_HOME (`.dagster_home` by default), so `make ui`
shows them, and a second demo loads the same partitions again, exactly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from waap_sessions.assets import active_sessions, domain_partitions
from waap_sessions.automation import AutomationSettings, days_up_to, partition_runs
from waap_sessions.checks import CHECKS
from waap_sessions.simulator import Simulator, SimulatorConfig

Printer = Callable[[str], None]
DEFAULT_DAGSTER_HOME = ".dagster_home"
# The demo prints a line per run; the runs' own logs stay in the instance (see the UI).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


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

        out(f"Simulator: {simulator.base_url}; Dagster instance: {home}")
        with dg.DagsterInstance.get() as instance:
            new_domains = discover_domains(defs, instance)
            domains = domain_partitions.get_partition_keys(dynamic_partitions_store=instance)
            days = days_up_to(datetime.now(UTC), AutomationSettings.from_env().backfill_days + 1)
            partition_keys = [str(run.partition_key) for run in partition_runs(days, domains)]
            out(
                f"The domain sensor found {len(new_domains)} new domains; loading "
                f"{len(partition_keys)} partitions (the last days and today of every domain)."
            )
            partition_job = defs.resolve_job_def("gcore_partition_job")
            for key in partition_keys:
                result = partition_job.execute_in_process(
                    run_config=QUIET, instance=instance, partition_key=key
                )
                out(f"  {key}: {_outcome(result)}")
            snapshot_job = defs.resolve_job_def("snapshot_job")
            result = snapshot_job.execute_in_process(run_config=QUIET, instance=instance)
            out(f"  snapshots: {_outcome(result)}")
            # The automation sensor refreshes this summary, checks included, after the
            # snapshots; the demo has no daemon running, so it does the same itself.
            checks = [
                check
                for check in CHECKS
                if {key.asset_key for key in check.check_keys} == {active_sessions.key}
            ]
            result = dg.materialize(
                [active_sessions, *checks],
                run_config=QUIET,
                instance=instance,
                resources=defs.resources,
            )
            out(f"  active_sessions: {_outcome(result)}")
        database = os.environ.get("WAAP_DUCKDB_PATH") or "data/waap_sessions.duckdb"
        show_summaries(database, out)


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


def _outcome(result: dg.ExecuteInProcessResult) -> str:
    checks = result.get_asset_check_evaluations()
    failed = [check.check_name for check in checks if not check.passed]
    outcome = f"{len(result.get_asset_materialization_events())} tables written"
    if checks:
        outcome += f", {len(checks) - len(failed)} of {len(checks)} checks passed"
    return outcome + (f" (failed: {', '.join(failed)})" if failed else "")


def show_summaries(database: str, out: Printer) -> None:
    """Print yesterday's top sessions of each domain and the latest active sessions."""
    with duckdb.connect(database, read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
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
    out(f"Tables are in {database}. See them in the Dagster UI: make ui")


def _table(title: str, frame: pd.DataFrame) -> str:
    body = frame.to_string(index=False, na_rep="-") if len(frame) else "(none)"
    return f"{title}\n{body}\n"
