"""Benchmark of issue 8's targets: loading Gcore requests as a user runs it, against dlt.

Every figure is a ratio to a baseline measured in the same run, on a loopback simulator.
Our side is always the public CLI in a process of its own, with a fresh Dagster home (the
repository's dagster.yaml) and a fresh lake, pointed at the simulator by the environment
the demo uses. Wall time and peak RSS are each process's own, taken by a small launcher
process with `os.wait4` (see LAUNCHER).

1. throughput: 6 domain-days of 20,000 requests (120,000 rows), at 0 and 20 ms of added
   latency, `--pairs` pairs alternating (the order flips each pair) of
   a. `dagster asset materialize -m waap_sessions.definitions --select gcore_requests
      --partition-range DAY|FIRST...DAY|LAST`, checks included (the run's check
      evaluations are read back from the instance: all must have passed), and
   b. dlt's `rest_api` source with its parquet loader into a DuckDB file
      (`bench.dlt_baseline`, the same query parameters as the Gcore client, dlt's defaults
      otherwise: one resource per domain, read one after another).
   Both must hold exactly the simulator's 120,000 rows afterwards. Printed: medians of
   wall time and peak memory, rows/s, and ours/dlt for rows/s and memory.
   Dagster reads `--partition-range A...B` of a multi-partitioned asset per dimension: the
   days from A's to B's, times the domains from A's to B's in the order the instance's
   dynamic partitions `gcore_domains` were added. The domains are added in id order, so
   one day's first to last domain is exactly the 6 partitions, in one run; the run's
   materializations are checked to be those 6.
2. memory: peak RSS of `dagster asset materialize` of ONE partition of 100,000 rows and
   of one of 1,000,000 rows (separate simulators); target 1M / 100k <= 1.25.
3. ratelimit: the simulator answers 429 beyond R requests/s (`--rate-limit`, 50); ours,
   default settings, loads 6 partitions of 10,000 rows (600 requests, 12 s at 50/s: long
   enough that opening the lake is not what is measured), then dlt does. Printed: whether
   each run succeeded, the 429s it met, and its rows/s as a share of the 100 x R rows/s
   ceiling (target >= 80%). Ours is timed over the asset's step (the run's event log),
   dlt over its process, so neither counts Dagster's start-up against the API's limit.
4. rerun: one past partition loaded, then the same command again: the HTTP requests the
   second run sent (the simulator's log), its asset step's duration and the CLI's wall
   time; targets <= 2 requests and < 1 s for the step.
5. load: medians of 5 of `dagster definitions validate -m waap_sessions.definitions`,
   `python -c "import dagster"`, and `dagster definitions validate` of a module holding
   only `dg.Definitions()` (the CLI's own floor); target ours / import dagster <= 1.5.

The end is a Markdown table for the README. Run with `python -m bench.speed` (`make
bench` runs it after the other benchmarks); `--only rerun,load` runs some parts alone,
`--skip-million` skips the 1,000,000-row partition. On 2 cores the whole default run
takes about 20 minutes (11 with `--pairs 2`), most of it the throughput pairs and the
1M-row partition, whose simulator takes a minute or two to draw its data.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median

import dagster as dg
import duckdb
import httpx

import waap_sessions
from waap_sessions.demo import simulator_environment
from waap_sessions.partitions import DOMAINS_PARTITIONS_NAME
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions.simulator.dataset import to_ms

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSET = "gcore_requests"
REQUESTS_PATH = "/waap/v1/analytics/requests"
# The simulated clock at start; every partition loaded is the day before, complete.
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DAY = date(2026, 11, 19)
# The memory runs' simulators start just after midnight: little of today to draw and hold.
EARLY_NOW = datetime(2026, 11, 20, 0, 1, tzinfo=UTC)
LATENCIES_S = (0.0, 0.02)
LOAD_REPEATS = 5
RUN_TIMEOUT_S = 3600.0
PARTS = ("throughput", "memory", "ratelimit", "rerun", "load")
TRIVIAL_MODULE = "import dagster as dg\n\ndefs = dg.Definitions()\n"
# Runs a command and writes its wall time and peak RSS (KiB, from `os.wait4`) to a file.
# Being small, it keeps the measured peak the command's own (to about 10 MB, its own
# size): Linux counts in a child's peak the pages it shared with its parent until exec,
# and the bench holds the simulator's data set, hundreds of MB.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
child = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(child, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as report:
    report.write(f"{seconds} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


# Processes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    """A finished process: wall time, peak RSS (its own, or a waited-for child's), output."""

    seconds: float
    peak_mb: float
    returncode: int
    output: str

    def check(self, what: str) -> Process:
        if self.returncode != 0:
            raise RuntimeError(f"{what} failed ({self.returncode}):\n{self.output[-4000:]}")
        return self


def run_process(
    command: Sequence[str], env: dict[str, str], timeout_s: float = RUN_TIMEOUT_S
) -> Process:
    """Run `command` in the repository's root to its end (killed after `timeout_s`), through
    LAUNCHER: a child of this big process would count its pages in its own peak."""
    with tempfile.TemporaryDirectory(prefix="waap-bench-run-") as name:
        report, log = Path(name) / "report", Path(name) / "output"
        with log.open("wb") as output:
            process = subprocess.Popen(  # noqa: S603 (our own commands)
                [sys.executable, "-c", LAUNCHER, str(report), *command],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                returncode = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise RuntimeError(f"{command} ran longer than {timeout_s:.0f} s") from None
        seconds, peak_kib = report.read_text().split()
        text = log.read_text(errors="replace")
    return Process(float(seconds), int(peak_kib) / 1024, returncode, text)


# Simulators ------------------------------------------------------------------------------


@contextmanager
def simulator_of(domains: int, rows: int, now: datetime = NOW) -> Iterator[Simulator]:
    """A simulator of `domains` domains with `rows` requests each on DAY, its queries warm."""
    print(f"  drawing {domains} x {rows:,} requests ...", flush=True)
    config = SimulatorConfig(
        seed=3, domains=domains, days=1, requests_per_day=rows, exact_volume=True, now=now
    )
    with Simulator(config) as simulator:
        for domain in domain_ids(simulator):
            assert day_rows(simulator, [domain]) == rows, "the simulator's day is not whole"
        warm(simulator)
        yield simulator


def domain_ids(simulator: Simulator) -> list[int]:
    """The simulator's domain ids, ascending."""
    return sorted(domain.id for domain in simulator.dataset.domains)


def day_rows(simulator: Simulator, domains: Sequence[int]) -> int:
    """The simulator's requests on DAY of `domains`."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    window = (to_ms(start), to_ms(start + timedelta(days=1)))
    return sum(len(simulator.dataset.records_between(domain, *window)) for domain in domains)


def day_params(domain: int) -> dict[str, str | int]:
    """The query of one domain-day as the Gcore client sends it (first page)."""
    return {
        "domains": domain,
        "ordering": "request_time",
        "start": f"{DAY.isoformat()}T00:00:00.000Z",
        "end": f"{(DAY + timedelta(days=1)).isoformat()}T00:00:00.000Z",
        "limit": 100,
        "offset": 0,
    }


def warm(simulator: Simulator) -> None:
    """Fill the simulator's cache of each domain-day's query, so that no run pays for it."""
    headers = {"Authorization": f"APIKey {simulator.config.gcore_api_key}"}
    with httpx.Client(base_url=simulator.base_url, headers=headers, timeout=300) as client:
        for domain in domain_ids(simulator):
            client.get(REQUESTS_PATH, params=day_params(domain)).raise_for_status()
    simulator.clear_log()


def rejected(simulator: Simulator) -> int:
    """The 429s in the simulator's log."""
    return sum(1 for request in simulator.request_log if request.status == 429)


# Our side: the Dagster CLI ---------------------------------------------------------------


@dataclass(frozen=True)
class Install:
    """A fresh Dagster home and lake in a folder, and the code location's environment."""

    folder: Path
    env: dict[str, str]

    @property
    def lake(self) -> waap_sessions.LakeSettings:
        return waap_sessions.LakeSettings(
            catalog=self.env["WAAP_DUCKLAKE_CATALOG"],
            data_path=self.env["WAAP_DUCKLAKE_DATA_PATH"],
        )


def install(simulator: Simulator, folder: Path) -> Install:
    """A Dagster home with the repository's dagster.yaml and the simulator's domains added
    as partitions (in id order, as `--partition-range` relies on), and an empty lake."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(
            DOMAINS_PARTITIONS_NAME, [str(domain) for domain in domain_ids(simulator)]
        )
    env = {
        **os.environ,
        **simulator_environment(simulator),
        "DAGSTER_HOME": str(home),
        "WAAP_DUCKLAKE_CATALOG": f"sqlite:{folder / 'catalog.sqlite'}",
        "WAAP_DUCKLAKE_DATA_PATH": f"{folder / 'lake'}/",
        "WAAP_SOURCES": "gcore",
        "WAAP_START_DATE": DAY.isoformat(),
        "WAAP_AUTOMATION_ENABLED": "false",
    }
    return Install(folder, env)


def partition_keys(domains: Sequence[int]) -> list[str]:
    return [f"{DAY.isoformat()}|{domain}" for domain in domains]


def materialize(target: Install, domains: Sequence[int]) -> Process:
    """`dagster asset materialize` of gcore_requests on DAY of `domains`, as a user types it."""
    keys = partition_keys(domains)
    partitions = ["--partition", keys[0]] if len(keys) == 1 else ["--partition-range"]
    if len(keys) > 1:
        partitions.append(f"{keys[0]}...{keys[-1]}")
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "waap_sessions.definitions"]
    return run_process([*command, "--select", ASSET, *partitions], target.env)


@dataclass(frozen=True)
class RunRecord:
    """What the instance recorded of the last run: its status, the partitions of the asset
    it materialized, its asset step's duration, and its checks of the asset."""

    succeeded: bool
    partitions: frozenset[str]
    step_s: float | None
    checks: int
    checks_failed: int


def last_run(target: Install) -> RunRecord:
    with dg.DagsterInstance.from_config(target.env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs(limit=1)
        entries = instance.all_logs(run.run_id)
    key = dg.AssetKey(ASSET)
    materialized = [
        entry
        for entry in entries
        if entry.dagster_event is not None
        and entry.dagster_event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and entry.dagster_event.asset_key == key
    ]
    checks = [
        entry.dagster_event.event_specific_data
        for entry in entries
        if entry.dagster_event is not None
        and entry.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    evaluations = [
        check
        for check in checks
        if isinstance(check, dg.AssetCheckEvaluation) and check.asset_key == key
    ]
    return RunRecord(
        succeeded=run.status == dg.DagsterRunStatus.SUCCESS,
        partitions=frozenset(
            str(entry.dagster_event.partition)
            for entry in materialized
            if entry.dagster_event is not None
        ),
        step_s=step_seconds(entries, {entry.step_key for entry in materialized} or {ASSET}),
        checks=len(evaluations),
        checks_failed=sum(1 for check in evaluations if not check.passed),
    )


def step_seconds(entries: Sequence[dg.EventLogEntry], steps: set[str | None]) -> float | None:
    """From the first STEP_START to the last end of `steps`: the asset's step."""
    ends = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    starts, stops = [], []
    for entry in entries:
        if entry.dagster_event is None or entry.step_key not in steps:
            continue
        if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            starts.append(entry.timestamp)
        elif entry.dagster_event.event_type in ends:
            stops.append(entry.timestamp)
    return max(stops) - min(starts) if starts and stops else None


def lake_rows(target: Install) -> int:
    """The rows of gcore_requests in the lake, as any reader counts them (0: no lake)."""
    try:
        with waap_sessions.connect(read_only=True, settings=target.lake) as lake:
            found = lake.execute(f"SELECT count(*) FROM {ASSET}").fetchone()
    except (waap_sessions.WarehouseError, duckdb.CatalogException):
        return 0
    return int(found[0]) if found else 0


def ours(simulator: Simulator, folder: Path, domains: Sequence[int]) -> tuple[Process, RunRecord]:
    """A fresh install loads `domains`' DAY; it must succeed, exactly, its checks passed."""
    target = install(simulator, folder)
    process = materialize(target, domains).check("dagster asset materialize")
    record = last_run(target)
    assert record.succeeded, record
    assert record.partitions == set(partition_keys(domains)), record.partitions
    assert record.checks > 0, "no check of gcore_requests ran"
    assert record.checks_failed == 0, f"{record.checks_failed} checks of gcore_requests failed"
    rows = lake_rows(target)
    assert rows == day_rows(simulator, domains), f"the lake holds {rows} rows"
    return process, record


# The baseline: dlt -----------------------------------------------------------------------


def dlt(simulator: Simulator, folder: Path, domains: Sequence[int]) -> tuple[Process, int]:
    """`bench.dlt_baseline` loads `domains`' DAY into a new DuckDB file; with the rows there."""
    folder.mkdir(parents=True)
    database = folder / "dlt.duckdb"
    env = {
        **os.environ,
        "GCORE_API_KEY": simulator.config.gcore_api_key,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(folder / "dlt_data"),
    }
    command = [sys.executable, "-m", "bench.dlt_baseline", "--base-url", simulator.base_url]
    command += ["--day", DAY.isoformat(), "--domains", ",".join(map(str, domains))]
    command += ["--duckdb", str(database), "--pipelines-dir", str(folder / "pipelines")]
    process = run_process(command, env)
    if process.returncode != 0 or not database.exists():
        return process, 0
    with duckdb.connect(str(database), read_only=True) as connection:
        found = connection.execute("SELECT count(*) FROM gcore.gcore_requests").fetchone()
    return process, int(found[0]) if found else 0


# Reporting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A row of the final table."""

    measure: str
    ours: str
    baseline: str
    ratio: str
    target: str


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def print_table(lines: Sequence[Line], command: str) -> None:
    print(f"\nReproduce with `{command}` (medians; ratios are ours / baseline):\n")
    print("| measure | ours | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for line in lines:
        print(f"| {line.measure} | {line.ours} | {line.baseline} | {line.ratio} | {line.target} |")


# The parts -------------------------------------------------------------------------------


def throughput(folder: Path, pairs: int) -> list[Line]:
    print("1. throughput: 6 domain-days of 20,000 rows", flush=True)
    lines = []
    with simulator_of(domains=6, rows=20_000) as simulator:
        domains = domain_ids(simulator)
        rows = day_rows(simulator, domains)
        assert rows == 120_000, rows
        for latency in LATENCIES_S:
            simulator.faults = Faults(latency_s=latency)
            runs: dict[str, list[Process]] = {"ours": [], "dlt": []}
            for pair in range(pairs):
                place = folder / f"throughput-{latency}-{pair}"
                for side in ("ours", "dlt") if pair % 2 == 0 else ("dlt", "ours"):
                    if side == "ours":
                        process, record = ours(simulator, place / side, domains)
                        detail = f"step {record.step_s or 0:.1f} s, {record.checks} checks passed"
                    else:
                        process, loaded = dlt(simulator, place / side, domains)
                        process.check("the dlt baseline")
                        assert loaded == rows, f"dlt loaded {loaded} rows"
                        detail = f"{loaded:,} rows"
                    runs[side].append(process)
                    print(
                        f"  {latency * 1000:.0f} ms, pair {pair + 1}: {side} "
                        f"{process.seconds:.1f} s ({detail}), {process.peak_mb:.0f} MB",
                        flush=True,
                    )
                shutil.rmtree(place)
            ours_s = median([process.seconds for process in runs["ours"]])
            dlt_s = median([process.seconds for process in runs["dlt"]])
            ours_mb = median([process.peak_mb for process in runs["ours"]])
            dlt_mb = median([process.peak_mb for process in runs["dlt"]])
            label = f"{latency * 1000:.0f} ms"
            print(
                f"  {label}: ours {ours_s:.1f} s = {rows / ours_s:,.0f} rows/s, "
                f"dlt {dlt_s:.1f} s = {rows / dlt_s:,.0f} rows/s -> ours {dlt_s / ours_s:.2f}x "
                f"dlt's rows/s; peak memory ours {ours_mb:.0f} MB, dlt {dlt_mb:.0f} MB "
                f"-> {ours_mb / dlt_mb:.2f}x",
                flush=True,
            )
            target = ">= 3x" if latency == 0 else ">= 6x"
            lines += [
                Line(
                    f"rows/s, 120,000 rows, {label} latency, checks included",
                    f"{rows / ours_s:,.0f}",
                    f"dlt {rows / dlt_s:,.0f}",
                    ratio(dlt_s / ours_s),
                    target,
                ),
                Line(
                    f"peak memory, {label} latency",
                    f"{ours_mb:.0f} MB",
                    f"dlt {dlt_mb:.0f} MB",
                    ratio(ours_mb / dlt_mb),
                    "<= 1x",
                ),
            ]
    return lines


def memory(folder: Path, skip_million: bool) -> list[Line]:
    print("2. memory: one partition of 100,000 rows, then of 1,000,000", flush=True)
    peaks: dict[int, float] = {}
    for rows in (100_000,) if skip_million else (100_000, 1_000_000):
        with simulator_of(domains=1, rows=rows, now=EARLY_NOW) as simulator:
            process, _ = ours(simulator, folder / f"memory-{rows}", domain_ids(simulator))
            peaks[rows] = process.peak_mb
            print(
                f"  {rows:,} rows: {process.seconds:.1f} s = {rows / process.seconds:,.0f} rows/s,"
                f" peak {process.peak_mb:.0f} MB",
                flush=True,
            )
        shutil.rmtree(folder / f"memory-{rows}")
    if skip_million:
        only = f"{peaks[100_000]:.0f} MB"
        return [Line("peak memory, one 100,000-row partition", only, "", "", "")]
    growth = peaks[1_000_000] / peaks[100_000]
    print(f"  1M / 100k peak memory: {growth:.2f}x", flush=True)
    return [
        Line(
            "peak memory, one 1,000,000-row partition",
            f"{peaks[1_000_000]:.0f} MB",
            f"100,000 rows: {peaks[100_000]:.0f} MB",
            ratio(growth),
            "<= 1.25x",
        )
    ]


def rate_limited(folder: Path, rate: float) -> list[Line]:
    print(f"3. rate limit: 6 partitions of 10,000 rows, server limit {rate:g} requests/s")
    ceiling = 100 * rate
    with simulator_of(domains=6, rows=10_000) as simulator:
        domains = domain_ids(simulator)
        rows = day_rows(simulator, domains)
        simulator.faults = Faults(rate_limit_per_s=rate)
        target = install(simulator, folder / "ratelimit-ours")
        process = materialize(target, domains)
        record = last_run(target)
        loaded = lake_rows(target)
        ok = process.returncode == 0 and record.succeeded and loaded == rows
        ours_429s, ours_requests = rejected(simulator), len(simulator.request_log)
        ours_rate = loaded / record.step_s if record.step_s else 0.0
        print(
            f"  ours: {'succeeded' if ok else 'FAILED'}, {loaded:,} of {rows:,} rows, step "
            f"{record.step_s or 0:.1f} s = {ours_rate:,.0f} rows/s = {ours_rate / ceiling:.0%} "
            f"of the {ceiling:,.0f} rows/s ceiling (CLI {process.seconds:.1f} s); "
            f"{ours_requests} requests, {ours_429s} answered 429",
            flush=True,
        )
        simulator.clear_log()
        dlt_process, dlt_loaded = dlt(simulator, folder / "ratelimit-dlt", domains)
        dlt_ok = dlt_process.returncode == 0 and dlt_loaded == rows
        dlt_rate = dlt_loaded / dlt_process.seconds
        dlt_429s = rejected(simulator)
        print(
            f"  dlt: {'succeeded' if dlt_ok else 'FAILED'}, {dlt_loaded:,} rows, "
            f"{dlt_process.seconds:.1f} s = {dlt_rate:,.0f} rows/s = {dlt_rate / ceiling:.0%} "
            f"of the ceiling; {len(simulator.request_log)} requests, {dlt_429s} answered 429",
            flush=True,
        )
    return [
        Line(
            f"under a limit of {rate:g} requests/s: rows/s as a share of {ceiling:,.0f}",
            f"{ours_rate / ceiling:.0%} ({'ok' if ok else 'FAILED'}, {ours_429s} x 429)",
            f"dlt {dlt_rate / ceiling:.0%} ({'ok' if dlt_ok else 'FAILED'}, {dlt_429s} x 429)",
            "",
            "no failure, >= 80%",
        )
    ]


def rerun(folder: Path) -> list[Line]:
    print("4. re-run of an unchanged past partition of 20,000 rows", flush=True)
    with simulator_of(domains=1, rows=20_000) as simulator:
        domains = domain_ids(simulator)
        target = install(simulator, folder / "rerun")
        first = materialize(target, domains).check("the first load")
        first_requests = len(simulator.request_log)
        simulator.clear_log()
        second = materialize(target, domains).check("the re-run")
        requests = len(simulator.request_log)
        paths = Counter(request.path for request in simulator.request_log)
        record = last_run(target)
        assert record.succeeded, record
        assert lake_rows(target) == day_rows(simulator, domains)
    step = record.step_s or 0.0
    print(
        f"  first load: {first.seconds:.1f} s, HTTP requests: {first_requests}; re-run: "
        f"{second.seconds:.1f} s, asset step {step:.2f} s, HTTP requests: {requests} = "
        + ", ".join(f"{count} x {path}" for path, count in paths.most_common()),
        flush=True,
    )
    return [
        Line(
            "re-run of an unchanged past partition",
            f"HTTP requests: {requests}, step {step:.2f} s (CLI {second.seconds:.1f} s)",
            f"first load: HTTP requests: {first_requests}",
            "",
            "<= 2 requests, step < 1 s",
        )
    ]


def load_time(folder: Path) -> list[Line]:
    print(f"5. load time: medians of {LOAD_REPEATS}", flush=True)
    trivial = folder / "trivial"
    trivial.mkdir()
    (trivial / "trivial_definitions.py").write_text(TRIVIAL_MODULE)
    validate = [str(BIN / "dagster"), "definitions", "validate", "-m"]
    with simulator_of(domains=6, rows=100) as simulator:
        env = install(simulator, folder / "load").env
        commands = {
            "ours": ([*validate, "waap_sessions.definitions"], env),
            "import dagster": ([sys.executable, "-c", "import dagster"], env),
            "trivial": (
                [*validate, "trivial_definitions"],
                {**env, "PYTHONPATH": str(trivial)},
            ),
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(LOAD_REPEATS):
            for name, (command, environment) in commands.items():
                seconds[name].append(run_process(command, environment).check(name).seconds)
    ours_s, bare_s, floor_s = (median(seconds[name]) for name in commands)
    print(
        f"  definitions validate {ours_s:.2f} s, import dagster {bare_s:.2f} s, "
        f"validate of an empty Definitions {floor_s:.2f} s -> {ours_s / bare_s:.2f}x import "
        f"dagster, {ours_s / floor_s:.2f}x the empty one",
        flush=True,
    )
    return [
        Line(
            "`dagster definitions validate`",
            f"{ours_s:.2f} s",
            f"`import dagster` {bare_s:.2f} s",
            ratio(ours_s / bare_s),
            "<= 1.5x",
        ),
        Line(
            "`dagster definitions validate`",
            f"{ours_s:.2f} s",
            f"of an empty `Definitions()` {floor_s:.2f} s",
            ratio(ours_s / floor_s),
            "",
        ),
    ]


def parts(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = set(chosen) - set(PARTS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown parts {sorted(unknown)}; known: {PARTS}")
    return chosen


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=parts, default=list(PARTS), help=",".join(PARTS))
    parser.add_argument("--pairs", type=int, default=5, help="throughput pairs per latency")
    parser.add_argument("--rate-limit", type=float, default=50.0, help="requests/s (part 3)")
    parser.add_argument("--skip-million", action="store_true", help="part 2 without 1M rows")
    options = parser.parse_args(arguments)
    if datetime.now(UTC).date() <= DAY:
        raise SystemExit(f"the benchmark loads {DAY}: run it on a later day")
    started = time.perf_counter()
    lines: list[Line] = []
    with tempfile.TemporaryDirectory(prefix="waap-bench-speed-") as name:
        folder = Path(name)
        if "throughput" in options.only:
            lines += throughput(folder, options.pairs)
        if "memory" in options.only:
            lines += memory(folder, options.skip_million)
        if "ratelimit" in options.only:
            lines += rate_limited(folder, options.rate_limit)
        if "rerun" in options.only:
            lines += rerun(folder)
        if "load" in options.only:
            lines += load_time(folder)
    command = " ".join(["python -m bench.speed", *(arguments or sys.argv[1:])])
    print_table(lines, command)
    print(f"\nbench.speed took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
