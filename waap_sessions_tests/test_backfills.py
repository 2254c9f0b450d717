"""Backfills: 6 partitions load in one run, exactly once, from the CLI and from the UI's dialog.

Real processes throughout: `dagster asset materialize --partition-range` as a user types it,
and a `dagster-webserver` plus `dagster-daemon run` that receive the GraphQL mutations the
UI's "Add partition" and "Launch backfill" buttons send. Every load goes over HTTP to the
simulator and into a DuckLake of its own, then the instance's runs and materializations,
the lake's rows and `waap_meta.partition_loads` are compared with the simulator's data.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from waap_sessions import WarehouseResource, build_waap_sessions_definitions
from waap_sessions.checks import build_checks
from waap_sessions.demo import simulator_environment
from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.simulator.dataset import to_ms
from waap_sessions.simulator.traffic import RequestRecord
from waap_sessions.summaries import TOP_SESSIONS_PER_DAY
from waap_sessions.warehouse import (
    GCORE_IP_TOP_SESSIONS,
    GCORE_REQUESTS,
    PARTITION_LOADS,
    TOP_SESSIONS,
)
from waap_sessions_tests.conftest import lake_settings, query
from waap_sessions_tests.postgres import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The request tables, all partitioned alike: one backfill loads them together.
PARTITIONED = (GCORE_REQUESTS.name, GCORE_IP_TOP_SESSIONS.name, TOP_SESSIONS.name)
# Four domains, of which the tests load three at most: the fourth must stay untouched. Six
# complete days before today, and few requests, each a page or two.
SIMULATION = SimulatorConfig(seed=23, domains=4, days=6, requests_per_day=120)
# Dagster's run tags (dagster._core.storage.tags, not exported): the backfill a run belongs
# to, and the partition range a run of many partitions loads.
BACKFILL_TAG = "dagster/backfill"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MULTI_RUN_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=2)
# A backfill needs two looks of the backfill daemon (one to submit its runs, one to see
# them done), plus the runs, on a busy machine.
BACKFILL_TIMEOUT_S = 300
# `dagster-daemon run`, its backfill daemon looking every 3 s rather than every 30 s, as
# each look the test waits for would cost up to 30 s. The interval is the private constant
# DEFAULT_DAEMON_INTERVAL_SECONDS, which no setting changes (the asset daemon's interval
# too, idle here: automation is off); should a Dagster release drop it, the daemon looks
# every 30 s again and the test is slower, not wrong.
DAEMON = [
    sys.executable,
    "-c",
    "import dagster._daemon.controller as c;"
    "c.DEFAULT_DAEMON_INTERVAL_SECONDS = 3;"
    "from dagster._daemon.cli import main;"
    "main()",
    "run",
    "-w",
    "workspace.yaml",
]


@dataclass(frozen=True)
class Selection:
    """Whole UTC days times domains: the rectangle the UI's partition grid selects.

    `domains` are the selected ones, in the order the instance knows them; `known` all of
    the instance's domains, in the order they were added.
    """

    days: tuple[date, ...]
    domains: tuple[str, ...]
    known: tuple[str, ...]

    @property
    def keys(self) -> list[str]:
        """Every partition key, `<date>|<domain id>`, date first as Dagster orders them."""
        return [f"{day}|{domain}" for day in self.days for domain in self.domains]

    @property
    def cli_range(self) -> str:
        """`--partition-range`: from the first day's first domain to the last day's last.

        Dagster reads it as days x domains, so the unselected domain after the last one is
        left out, although its key sorts between the first day's keys and the last day's.
        """
        return f"{self.keys[0]}...{self.keys[-1]}"


def complete_days(simulator: Simulator, count: int, domains: slice) -> Selection:
    """The simulator's last `count` complete UTC days, up to yesterday, of its `domains`."""
    today = simulator.config.now.date()
    known = tuple(str(domain.id) for domain in simulator.dataset.domains)
    days = tuple(today - timedelta(days=back) for back in range(count, 0, -1))
    return Selection(days=days, domains=known[domains], known=known)


@pytest.fixture(scope="module")
def live_simulator() -> Iterator[Simulator]:
    """A small simulator of this module's own, on the real clock as a deployment sees it:
    the date partitions end today."""
    with Simulator(SIMULATION) as running:
        yield running


def expected_rows(simulator: Simulator, selection: Selection) -> dict[tuple[date, int], int]:
    """The simulator's request count of each selected (day, domain)."""
    return {key: len(records) for key, records in selected_records(simulator, selection).items()}


def expected_top_sessions(
    simulator: Simulator, selection: Selection
) -> dict[tuple[date, int], int]:
    """How many top sessions each selected (day, domain) has: its 10 busiest, or all of
    them on a quiet day (a few heavy sessions can make a whole day of a small simulator)."""
    return {
        key: min(TOP_SESSIONS_PER_DAY, len({record.summary["session_id"] for record in records}))
        for key, records in selected_records(simulator, selection).items()
    }


def selected_records(
    simulator: Simulator, selection: Selection
) -> dict[tuple[date, int], list[RequestRecord]]:
    """The simulator's requests of each selected (day, domain)."""
    selected = {}
    for day in selection.days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for domain in selection.domains:
            selected[(day, int(domain))] = simulator.dataset.records_between(
                int(domain), to_ms(start), to_ms(start + timedelta(days=1))
            )
    return selected


def lake_rows(lake: Path, table: str) -> dict[tuple[date, int], int]:
    """The rows of `table` per (day, domain), as any reader of the lake counts them."""
    sql = f"SELECT day, domain_id, count(*) FROM {table} GROUP BY day, domain_id"
    return {(day, domain): rows for day, domain, rows in query(lake, sql)}


def recorded_loads(lake: Path) -> dict[str, dict[tuple[date, int], int]]:
    """`waap_meta.partition_loads`: the row count each table recorded per (day, domain)."""
    sql = f"SELECT table_name, day, domain_id, row_count FROM {PARTITION_LOADS}"
    loads: dict[str, dict[tuple[date, int], int]] = {}
    for table, day, domain, rows in query(lake, sql):
        loads.setdefault(table, {})[(day, domain)] = rows
    return loads


def environment(simulator: Simulator, folder: Path) -> dict[str, str]:
    """The code location's environment: APIs on the simulator, a lake and an instance in
    `folder`, with the repository's dagster.yaml, and date partitions from the simulator's
    first day. Schedules and sensors start stopped, so the runs counted are the backfill's
    alone."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    # Create the instance's storage here, once: a webserver and a daemon that start at the
    # same moment on an empty home both stamp its schema, and one fails with two heads.
    dg.DagsterInstance.from_config(str(home)).dispose()
    lake = lake_settings(folder)
    return {
        **os.environ,
        **simulator_environment(simulator),
        "DAGSTER_HOME": str(home),
        "WAAP_DUCKLAKE_CATALOG": lake.catalog,
        "WAAP_DUCKLAKE_DATA_PATH": lake.data_path,
        "WAAP_START_DATE": (
            simulator.config.now.date() - timedelta(days=SIMULATION.days)
        ).isoformat(),
        "WAAP_AUTOMATION_ENABLED": "false",
    }


def materializations(instance: dg.DagsterInstance, key: dg.AssetKey) -> Counter[tuple[str, str]]:
    """How often each (partition, run id) of the asset was materialized."""
    records = instance.fetch_materializations(key, limit=1000).records
    return Counter((str(record.partition_key), record.run_id) for record in records)


def check_results(instance: dg.DagsterInstance, run_id: str) -> dict[dg.AssetCheckKey, bool]:
    """Whether each asset check the run evaluated passed."""
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    results = {}
    for entry in entries:
        assert entry.dagster_event is not None
        evaluation = entry.dagster_event.event_specific_data
        assert isinstance(evaluation, dg.AssetCheckEvaluation)
        results[evaluation.asset_check_key] = evaluation.passed
    return results


def assert_loaded_once(
    instance: dg.DagsterInstance,
    runs: Sequence[dg.DagsterRun],
    keys: Sequence[dg.AssetKey],
    selection: Selection,
) -> dict[str, list[str]]:
    """Each asset materialized each selected partition exactly once, in one of `runs`, and
    nothing else; every run succeeded. Returns each run's partitions (of the first asset)."""
    run_ids = {run.run_id for run in runs}
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs), runs
    for key in keys:
        done = materializations(instance, key)
        assert sorted(partition for partition, _ in done) == sorted(selection.keys), key
        assert set(done.values()) == {1}, key
        assert {run_id for _, run_id in done} <= run_ids, key
    per_run: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    for partition, run_id in materializations(instance, keys[0]):
        per_run[run_id].append(partition)
    return per_run


def assert_lake_exact(lake: Path, simulator: Simulator, selection: Selection) -> None:
    """The lake holds the simulator's requests of the selected partitions and nothing else,
    their IP Spotlight answers and their top sessions."""
    expected = expected_rows(simulator, selection)
    assert all(expected.values()), "the simulator must have requests in every partition"
    assert lake_rows(lake, GCORE_REQUESTS.name) == expected
    loads = recorded_loads(lake)
    assert loads[GCORE_REQUESTS.name] == expected
    assert set(loads[GCORE_IP_TOP_SESSIONS.name]) == set(expected)
    assert lake_rows(lake, TOP_SESSIONS.name) == expected_top_sessions(simulator, selection)


def assert_checks_passed(instance: dg.DagsterInstance, run_ids: Sequence[str]) -> None:
    """Every check of the request tables ran in the runs, and passed."""
    declared = {
        check_key
        for checks in build_checks({table: dg.AssetKey(table) for table in PARTITIONED})
        for check_key in checks.check_keys
    }
    for run_id in run_ids:
        results = check_results(instance, run_id)
        assert set(results) == declared, run_id
        assert all(results.values()), results


def test_a_cli_partition_range_loads_six_partitions_in_one_run(
    live_simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = live_simulator
    # 2 days x 3 domains: one run, as `--partition-range` always makes one.
    selection = complete_days(simulator, 2, slice(3))
    env = environment(simulator, tmp_path)
    # The domains, added by hand as the README shows (the domain sensor is not running).
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(DOMAINS_PARTITIONS_NAME, list(selection.known))

    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "waap_sessions.definitions"]
    command += ["--select", ",".join(PARTITIONED), "--partition-range", selection.cli_range]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert run.tags[RANGE_START_TAG] == selection.keys[0]
        assert run.tags[RANGE_END_TAG] == selection.keys[-1]
        keys = [dg.AssetKey(table) for table in PARTITIONED]
        per_run = assert_loaded_once(instance, [run], keys, selection)
        assert sorted(per_run[run.run_id]) == sorted(selection.keys)
        assert_checks_passed(instance, [run.run_id])
    assert_lake_exact(tmp_path, simulator, selection)


@pytest.mark.parametrize(
    ("arguments", "policy"),
    [
        ({}, dg.BackfillPolicy.single_run()),
        ({"backfill_policy": MULTI_RUN_POLICY}, MULTI_RUN_POLICY),
    ],
    ids=["default", "multi_run"],
)
def test_the_factory_hands_its_backfill_policy_to_every_partitioned_asset(
    arguments: dict[str, Any], policy: dg.BackfillPolicy, tmp_path: Path
) -> None:
    lake = lake_settings(tmp_path)
    defs = build_waap_sessions_definitions(
        sources=["gcore"],
        warehouse=WarehouseResource(catalog=lake.catalog, data_path=lake.data_path),
        **arguments,
    )
    policies = {
        key: defs.resolve_assets_def(key).backfill_policy for key in defs.resolve_all_asset_keys()
    }
    assert policies == {dg.AssetKey(table): policy for table in PARTITIONED}


LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""
ADD_PARTITION = """
mutation AddDynamicPartitionMutation(
    $partitionsDefName: String!, $partitionKey: String!, $repositorySelector: RepositorySelector!
) {
    addDynamicPartition(
        partitionsDefName: $partitionsDefName, partitionKey: $partitionKey,
        repositorySelector: $repositorySelector
    ) { __typename ... on PythonError { message } }
}
"""
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
    launchPartitionBackfill(backfillParams: $backfillParams) {
        __typename
        ... on LaunchBackfillSuccess { backfillId }
        ... on PythonError { message }
        ... on PartitionKeysNotFoundError { message }
    }
}
"""
BACKFILL_STATUS = """
query Backfill($backfillId: String!) {
    partitionBackfillOrError(backfillId: $backfillId) { ... on PartitionBackfill { status } }
}
"""
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
# A Definitions object is served as this repository of its code location.
REPOSITORY = "__repository__"


class GraphQL:
    """The webserver's GraphQL endpoint, called as the UI calls it."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def __call__(self, document: str, **variables: Any) -> dict[str, Any]:
        answer = httpx.post(self.url, json={"query": document, "variables": variables}, timeout=60)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def loaded_location(self, timeout_s: float) -> str:
        """The workspace's one code location, once the webserver is up and has loaded it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                (entry,) = self(LOCATIONS)["workspaceOrError"]["locationEntries"]
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            assert entry["locationOrLoadError"]["__typename"] != "PythonError", entry
            if entry["loadStatus"] == "LOADED":
                name: str = entry["name"]
                return name
            time.sleep(0.2)
        raise AssertionError(f"the webserver did not load its code location in {timeout_s} s")

    def add_partition(self, location: str, key: str) -> None:
        """The UI's "Add partition" for the domain dimension."""
        added = self(
            ADD_PARTITION,
            partitionsDefName=DOMAINS_PARTITIONS_NAME,
            partitionKey=key,
            repositorySelector={"repositoryLocationName": location, "repositoryName": REPOSITORY},
        )["addDynamicPartition"]
        assert added["__typename"] == "AddDynamicPartitionSuccess", added

    def launch_backfill(self, assets: Sequence[dg.AssetKey], partitions: Sequence[str]) -> str:
        """The backfill dialog's "Launch backfill": the assets and the partitions of its grid."""
        launched = self(
            LAUNCH_BACKFILL,
            backfillParams={
                "tags": [{"key": "dagster/from_ui", "value": "true"}],
                "assetSelection": [{"path": key.path} for key in assets],
                "partitionNames": list(partitions),
                "fromFailure": False,
            },
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id: str = launched["backfillId"]
        return backfill_id

    def finished_backfill(self, backfill_id: str, timeout_s: float) -> str:
        """The backfill's status once it is finished."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = self(BACKFILL_STATUS, backfillId=backfill_id)["partitionBackfillOrError"]
            status: str = answer["status"]
            if status in FINISHED:
                return status
            time.sleep(0.5)
        raise AssertionError(f"backfill {backfill_id} not finished in {timeout_s} s: {status}")


def start(command: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A Dagster process in a process group of its own, so that its code servers and runs
    stop with it; its output goes to `log`."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def signal_group(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
    """Send the signal to the process's group, unless the group is gone."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, number)


def stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop the processes and everything they started: SIGTERM to every group at once, as
    each takes seconds to shut down, then SIGKILL to a group not done in 20 s."""
    for process in processes:
        signal_group(process, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait(timeout=20)


def test_the_ui_backfill_dialog_loads_six_days_of_a_domain_in_one_run(
    live_simulator: Simulator, tmp_path: Path
) -> None:
    simulator = live_simulator
    # One domain: Dagster cuts the backfill into one run per domain (see the README).
    selection = complete_days(simulator, 6, slice(1))
    env = environment(simulator, tmp_path)
    port = free_port()
    keys = [dg.AssetKey(table) for table in PARTITIONED]

    processes: list[subprocess.Popen[bytes]] = []
    try:
        # Both load the code location at the same time, each in a code server of its own.
        webserver = [str(BIN / "dagster-webserver"), "-w", "workspace.yaml"]
        webserver += ["-h", "127.0.0.1", "-p", str(port)]
        processes.append(start(webserver, env, tmp_path / "webserver.log"))
        processes.append(start(DAEMON, env, tmp_path / "daemon.log"))
        graphql = GraphQL(port)
        # Loading the code location takes seconds, or minutes beside the demo test on 2 cores.
        location = graphql.loaded_location(timeout_s=300)
        for domain in selection.known:
            graphql.add_partition(location, domain)
        backfill_id = graphql.launch_backfill(keys, selection.keys)
        assert graphql.finished_backfill(backfill_id, BACKFILL_TIMEOUT_S) == "COMPLETED_SUCCESS"
    finally:
        stop(processes)

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs()
        assert run.tags[BACKFILL_TAG] == backfill_id
        assert run.tags[RANGE_START_TAG] == selection.keys[0]
        assert run.tags[RANGE_END_TAG] == selection.keys[-1]
        per_run = assert_loaded_once(instance, [run], keys, selection)
        assert sorted(per_run[run.run_id]) == selection.keys
        assert_checks_passed(instance, [run.run_id])
    assert_lake_exact(tmp_path, simulator, selection)
