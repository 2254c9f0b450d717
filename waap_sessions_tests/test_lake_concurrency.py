"""The lake under concurrency, as a deployment runs it: `dagster` processes writing at
once, a BI reader process holding its connection throughout, the simulator on loopback,
and both catalogs (SQLite, and a real PostgreSQL server that wants a password).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from waap_sessions.demo import simulator_environment
from waap_sessions.lake import ENVIRONMENT_VARIABLES, LakeSettings
from waap_sessions.resources import GcoreWaapResource, WarehouseResource
from waap_sessions.simulator import Simulator, SimulatorConfig
from waap_sessions.warehouse import connect
from waap_sessions_tests.conftest import gcore_requests
from waap_sessions_tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
SMALL = SimulatorConfig(seed=5, domains=2, days=3, requests_per_day=3000)
# One domain each, so that both simulators of the kill test have the same domain id.
SMALL_ONE = SimulatorConfig(seed=5, domains=1, days=1, requests_per_day=3000)
# Big enough that writing the partition takes a noticeable time (measured 0.3-2 s from
# its first Parquet file to the commit); fetching it takes several seconds before that.
BIG_ONE = SimulatorConfig(seed=5, domains=1, days=1, requests_per_day=100_000)
# Bounds on every wait: a run takes 5-20 s here, so these only catch a hang.
RUN_TIMEOUT_S = 240
EXIT_TIMEOUT_S = 60  # for a process told to stop, or killed

# The BI reader: one read-only connection, held while the runs write, querying every
# partition in a loop until the stop file appears (then once more). It records each
# state of the table it saw (when it changed) and every error, as JSON.
READER = """
import json, sys, time
from pathlib import Path
import waap_sessions

stop, ready, report = map(Path, sys.argv[1:4])
SQL = (
    "SELECT day::VARCHAR || '|' || domain_id, count(*), count(DISTINCT id), "
    "count(DISTINCT loaded_at), max(loaded_at)::VARCHAR FROM gcore_requests GROUP BY ALL"
)
states, errors, queries = [], [], 0
with waap_sessions.connect(read_only=True) as lake:  # the WAAP_DUCKLAKE_* settings
    ready.touch()
    while True:
        last = stop.exists()
        try:
            state = {key: rest for key, *rest in lake.execute(SQL).fetchall()}
            queries += 1
            if not states or states[-1] != state:
                states.append(state)
        except Exception as error:
            errors.append(repr(error))
        if last:
            break
        time.sleep(0.1)
report.write_text(json.dumps({"queries": queries, "errors": errors, "states": states}))
"""


@dataclass
class Process:
    """A child process in a session of its own, so that a kill reaches all it started
    (a `dagster` run also starts log tailers and an orphan watcher)."""

    popen: subprocess.Popen[bytes]
    log: Path

    def wait(self, timeout_s: float = RUN_TIMEOUT_S) -> int:
        return self.popen.wait(timeout_s)

    def output(self) -> str:
        """Its stdout and stderr, interleaved."""
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the process group: the process and every process it started."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(EXIT_TIMEOUT_S)


Spawn = Callable[[list[str], dict[str, str]], Process]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start processes in the repository with extra environment; kill leftovers at the end."""
    started: list[Process] = []

    def start(arguments: list[str], environment: dict[str, str]) -> Process:
        log = tmp_path / f"process-{len(started)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                arguments,
                cwd=ROOT,
                env={**os.environ, **environment},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(Process(popen, log))
        return started[-1]

    try:
        yield start
    finally:
        for process in started:
            process.kill()


@pytest.fixture(scope="module")
def instance_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Dagster instance (DAGSTER_HOME) for the module's runs: making one takes 2 s."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    return home


def with_domains(home: Path, simulator: Simulator) -> Path:
    """The instance, with the simulator's domains as partitions (as the domain sensor adds)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        domain_ids = [str(domain.id) for domain in simulator.dataset.domains]
        instance.add_dynamic_partitions("gcore_domains", domain_ids)
    return home


@dataclass(frozen=True)
class Lake:
    """A lake of the test's own, and the environment that points a process at it."""

    settings: LakeSettings
    environment: dict[str, str]

    def partitions(self) -> dict[str, tuple[int, int, list[datetime]]]:
        """Per partition key, through a new read-only connection: rows, distinct ids and
        distinct load times. Fails if the table has an id twice."""
        with connect(read_only=True, settings=self.settings) as connection:
            rows = connection.execute(
                "SELECT day::VARCHAR || '|' || domain_id, count(*), count(DISTINCT id), "
                "list(DISTINCT loaded_at ORDER BY loaded_at) FROM gcore_requests GROUP BY ALL"
            ).fetchall()
            ((duplicates,),) = connection.execute(
                "SELECT count(*) - count(DISTINCT id) FROM gcore_requests"
            ).fetchall()
        assert duplicates == 0
        return {key: (count, ids, loads) for key, count, ids, loads in rows}


def make_lake(catalog: str, data: Path, password: str | None = None) -> Lake:
    """A new lake, created: a read-only connection needs an existing one."""
    settings = LakeSettings(catalog=catalog, data_path=str(data), catalog_password=password)
    values = {"catalog": catalog, "data_path": str(data), "catalog_password": password}
    environment = {ENVIRONMENT_VARIABLES[name]: value for name, value in values.items() if value}
    connect(read_only=False, settings=settings).close()
    return Lake(settings, environment)


def partition_key(day: date, domain_id: int) -> str:
    return f"{day.isoformat()}|{domain_id}"


def expected_count(simulator: Simulator, day: date, domain_id: int) -> int:
    """The requests the simulator serves for one domain on one UTC day."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    return sum(
        start <= row["request_time"] < start + 86_400_000
        for row in simulator.dataset.requests(domain_id)
    )


# These tests are about writes: every load reads the API and replaces its partition, even
# when the API's count says the stored partition is unchanged.
RELOAD = {"ops": {"gcore_requests": {"config": {"reload_unchanged": True}}}}


def materialize(key: str) -> list[str]:
    """One run of gcore_requests (and its checks) for one partition, from the CLI."""
    selection = ["--select", "gcore_requests", "--partition", key]
    return [
        str(DAGSTER),
        "asset",
        "materialize",
        "-m",
        "waap_sessions.definitions",
        *selection,
        "--config-json",
        json.dumps(RELOAD),
    ]


def load_in_process(simulator: Simulator, lake: Lake, home: Path, key: str) -> None:
    """Load one partition in this process: quicker than a `dagster` process, for a load
    that only sets the scene."""
    password = lake.settings.catalog_password
    resources = {
        "gcore": GcoreWaapResource(
            api_key=simulator.config.gcore_api_key, base_url=simulator.base_url
        ),
        "warehouse": WarehouseResource(
            catalog=lake.settings.catalog,
            data_path=lake.settings.data_path,
            catalog_password=password.get_secret_value() if password else None,
        ),
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            [gcore_requests],
            instance=instance,
            resources=resources,
            partition_key=key,
            run_config=RELOAD,
        )
    assert result.success


def assert_succeeded(runs: list[Process]) -> None:
    """Every run exited 0; wait for all first, so none is left running on a failure."""
    codes = [run.wait() for run in runs]
    for run, code in zip(runs, codes, strict=True):
        assert code == 0, run.output()[-4000:]


def wait_until(
    condition: Callable[[], bool], process: Process, what: str, every_s: float = 0.02
) -> None:
    """Poll `condition` until it holds; fail at once if `process` ends first."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not condition():
        assert process.popen.poll() is None, f"{what}: the process ended\n{process.output()}"
        assert time.monotonic() < deadline, f"{what}: not within {RUN_TIMEOUT_S} s"
        time.sleep(every_s)


@pytest.mark.parametrize("catalog", ["sqlite", "postgres"])
def test_parallel_runs_beside_a_held_reader_are_exact(
    catalog: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    spawn: Spawn,
    instance_home: Path,
) -> None:
    """Three runs write three partitions at once (two replaced, one new) while a reader
    holds its connection: every run succeeds, the reader never fails, and it sees each
    partition absent or whole (one load, every row once), never part of a load nor a mix
    of the old load and the new one."""
    if catalog == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_catalog")
        catalog_setting = server.new_database("lake_parallel")
        lake = make_lake(catalog_setting, tmp_path / "data", server.password)
    else:
        lake = make_lake(f"sqlite:{tmp_path}/catalog.sqlite", tmp_path / "data")
    with Simulator(SMALL) as simulator:
        first, second = (domain.id for domain in simulator.dataset.domains)
        before = YESTERDAY - timedelta(days=1)
        days_and_domains = [(before, first), (YESTERDAY, first), (before, second)]
        expected = {
            partition_key(*partition): expected_count(simulator, *partition)
            for partition in days_and_domains
        }
        replaced = list(expected)[:2]  # the third is new
        home = with_domains(instance_home, simulator)
        environment = {
            **simulator_environment(simulator),
            **lake.environment,
            "DAGSTER_HOME": str(home),
        }
        stop, ready, report = tmp_path / "stop", tmp_path / "ready", tmp_path / "report.json"
        reader = spawn(
            [sys.executable, "-c", READER, str(stop), str(ready), str(report)], environment
        )
        for key in replaced:
            load_in_process(simulator, lake, home, key)
        wait_until(ready.exists, reader, "the reader connecting")

        runs = [spawn(materialize(key), environment) for key in expected]
        assert_succeeded(runs)
        stop.touch()
        assert reader.wait(EXIT_TIMEOUT_S) == 0, reader.output()

    seen = json.loads(report.read_text())
    assert seen["errors"] == []
    assert seen["queries"] >= 20
    states: list[dict[str, list[Any]]] = seen["states"]
    for state in states:
        for key, (rows, ids, loads, _) in state.items():
            assert (rows, ids, loads) == (expected[key], expected[key], 1), (key, state)
    for key in expected:
        # Once there, a partition stays there, also while it is replaced.
        present = [key in state for state in states]
        assert present == sorted(present), key
    # The reader saw both loads of each replaced partition, each whole.
    for key in replaced:
        assert len({state[key][3] for state in states if key in state}) == 2, key
    assert set(states[-1]) == set(expected)
    partitions = lake.partitions()
    assert {key: (rows, ids) for key, (rows, ids, _) in partitions.items()} == {
        key: (count, count) for key, count in expected.items()
    }
    assert all(len(loads) == 1 for _, _, loads in partitions.values())
    if lake.settings.catalog_password is not None:
        password = lake.settings.catalog_password.get_secret_value()
        for process in [reader, *runs]:
            assert password not in process.output()
        # Nor in what the instance keeps: run records, event logs, captured logs.
        for path in home.rglob("*"):
            assert not path.is_file() or password.encode() not in path.read_bytes(), path


def test_two_runs_replacing_the_same_partition_end_with_one_copy(
    tmp_path: Path, spawn: Spawn, instance_home: Path
) -> None:
    """Two runs of one partition at once both succeed; one load's rows remain, once."""
    lake = make_lake(f"sqlite:{tmp_path}/catalog.sqlite", tmp_path / "data")
    with Simulator(SMALL_ONE) as simulator:
        domain_id = simulator.dataset.domains[0].id
        key = partition_key(YESTERDAY, domain_id)
        count = expected_count(simulator, YESTERDAY, domain_id)
        environment = {
            **simulator_environment(simulator),
            **lake.environment,
            "DAGSTER_HOME": str(with_domains(instance_home, simulator)),
        }

        assert_succeeded([spawn(materialize(key), environment) for _ in range(2)])

    rows, ids, loads = lake.partitions()[key]
    assert (rows, ids, len(loads)) == (count, count, 1)


def test_a_run_killed_mid_write_leaves_the_partition_as_it_was(
    tmp_path: Path, spawn: Spawn, instance_home: Path
) -> None:
    """A run SIGKILLed between writing its Parquet file and committing changes nothing.

    "Mid-write" is seen on disk: DuckLake writes a transaction's new Parquet files under
    data/main/gcore_requests/ before it commits the transaction to the catalog. The test
    polls that folder every 2 ms while a `dagster` run loads a big partition (100,000
    rows: 0.3-2 s from the new file's appearance to the commit, measured) and kills the
    run's process group as soon as a new file appears. The new file is then left behind,
    uncommitted, and the partition must still hold the old load, whole.
    """
    lake = make_lake(f"sqlite:{tmp_path}/catalog.sqlite", tmp_path / "data")
    files = tmp_path / "data" / "main" / "gcore_requests"
    with Simulator(SMALL_ONE) as small, Simulator(BIG_ONE) as big:
        domain_id = small.dataset.domains[0].id
        assert big.dataset.domains[0].id == domain_id
        key = partition_key(YESTERDAY, domain_id)
        home = with_domains(instance_home, small)
        load_in_process(small, lake, home, key)
        old = lake.partitions()[key]
        assert old[:2] == (expected_count(small, YESTERDAY, domain_id),) * 2
        assert len(old[2]) == 1
        old_files = set(files.iterdir())

        environment = {**simulator_environment(big), **lake.environment}
        killed = spawn(materialize(key), {**environment, "DAGSTER_HOME": str(home)})
        wait_until(lambda: bool(set(files.iterdir()) - old_files), killed, "a new file", 0.002)
        killed.kill()

        assert killed.popen.returncode == -signal.SIGKILL
        assert {path.suffix for path in set(files.iterdir()) - old_files} == {".parquet"}
        assert lake.partitions()[key] == old

        # The lake takes the next load as usual (here in this process, whose engine was
        # open before the kill, as a long-lived one would be).
        load_in_process(small, lake, home, key)

    rows, ids, loads = lake.partitions()[key]
    assert (rows, ids, len(loads)) == (old[0], old[0], 1)
    assert loads[0] > old[2][0]
