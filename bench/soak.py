"""The fault matrix: every fault an operator's worst day brings, alone and all at once.

Each row of the matrix loads gcore_requests over days x domains (30 partitions by
default: 4 complete past days and today, 6 domains) against the project's simulator
with one fault switched on, then compares the lake with the simulator's ground truth:
every request exactly once, none missing, none extra, none twice.

- 5xx: 10% of API answers are 500s.
- rate limit: the server answers 429 beyond 20 requests/s, bursts of one, without
  Retry-After (as nginx's limit_req does); the client keeps its defaults.
- truncated: 2% of 2xx bodies end cleanly at half their length (a proxy dropping the
  end of a body: a valid HTTP message, its JSON cut midway).
- latency spikes: 2% of answers held back SPIKE_S, beyond the client's read timeout.
- server away: after a third of the row's pages the server stops, stays away a few
  seconds, and comes back on the same port with the same data.
- arrivals: new requests arrive (stamped at the simulated now) on every analytics call,
  so today's partition grows while it is paged. Today's expected rows are those in the
  window the run read: from midnight to the end it pinned (the `end` it sent).
- all at once: every fault above together.

A load is a real Dagster run, as a user starts a backfill: `dagster asset materialize
--select gcore_requests --partition-range FIRST...LAST` (one run for the whole range,
the factory's single-run backfill policy) in a process of its own, with a fresh Dagster
home (the repository's dagster.yaml) and a fresh lake per row. The code location is a
small module built with the public factory, as a user tunes a resource: the Gcore read
timeout is READ_TIMEOUT_S. A failed run is re-run once, the same command, as the next
tick of a schedule would: a complete past partition already loaded costs one count probe
then, and the rest load again. The summary says how many runs failed.

Printed at the end: one line per fault with partitions, rows expected, rows loaded,
duplicates, missing and unexpected rows, failed runs (of runs), the failed checks of
gcore_requests in those runs, and wall time. Exit status 1 when a row is not exact.

Run with `make soak` (about 8 minutes on 2 busy cores); `--only 5xx,away` runs some rows,
`--domains`, `--days` and `--rows` shrink or grow the matrix.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

import waap_sessions
from bench.speed import BIN, ROOT, Install, domain_ids, install, last_run, run_process
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions.simulator.dataset import DAY_MS, to_ms

ASSET = "gcore_requests"
REQUESTS_PATH = "/waap/v1/analytics/requests"
PAGE_SIZE = 100
READ_TIMEOUT_S = 4.0
SPIKE_S = READ_TIMEOUT_S + 2  # a spike outlasts the read timeout
AWAY_S = 3.0  # how long the server stays away
RUN_TIMEOUT_S = 900.0  # a run still going after this is killed and counted as failed
RERUNS = 1
# An exception as a traceback ends: `package.module.SomeError: message`.
ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout): ")
MODULE_NAME = "soak_definitions"
# The code location: the public factory, Gcore only, its resource tuned as a user would.
DEFINITIONS_MODULE = f"""
import os

import dagster as dg

from waap_sessions import build_waap_sessions_definitions
from waap_sessions.resources import GcoreWaapResource, WarehouseResource

defs = dg.Definitions.merge(
    build_waap_sessions_definitions(
        sources=["gcore"],
        start_date=os.environ["WAAP_START_DATE"],
        warehouse=WarehouseResource.from_env(),
        gcore=GcoreWaapResource.from_env(read_timeout_s={READ_TIMEOUT_S}),
    ),
    dg.Definitions(executor=dg.in_process_executor),
)
"""


@dataclass(frozen=True)
class Fault:
    """One row of the matrix: the simulator's faults, and whether the server goes away."""

    name: str
    short: str  # for --only
    faults: dict[str, Any]  # `Faults` fields
    away: bool = False


SINGLE_FAULTS = (
    Fault("5xx 10%", "5xx", {"error_rate": 0.1, "error_status": 500}),
    Fault(
        "rate limit 20/s, no Retry-After",
        "ratelimit",
        {"rate_limit_per_s": 20, "rate_limit_burst": 1, "rate_limit_retry_after": False},
    ),
    Fault("truncated 2%", "truncated", {"short_body_rate": 0.02}),
    Fault(
        f"latency spikes 2% of {SPIKE_S:g} s",
        "spikes",
        {"spike_rate": 0.02, "spike_s": SPIKE_S},
    ),
    Fault("server away & back", "away", {}, away=True),
    Fault("arrivals 5/request", "arrivals", {"arrivals_per_request": 5}),
)
ALL_AT_ONCE = Fault(
    "all at once",
    "all",
    {name: value for fault in SINGLE_FAULTS for name, value in fault.faults.items()},
    away=True,
)
FAULTS = (*SINGLE_FAULTS, ALL_AT_ONCE)


# The simulator -------------------------------------------------------------------------


def sync_clock(simulator: Simulator) -> None:
    """Move the simulated clock to just past the real one: arrivals are then stamped after
    any end a client pinned by the real clock. (It starts behind, by the time the data
    took to draw, and falls back to its configured start when the server restarts.)"""
    behind_s = (datetime.now(UTC) - simulator.now()).total_seconds()
    if behind_s > -0.5:
        simulator.advance_clock(behind_s + 0.5)


def start_simulator(domains: int, days: int, rows: int) -> Simulator:
    """A simulator whose today is the real today, so that today's partition is open."""
    print(f"drawing {domains} domains x {days + 1} days x {rows:,} requests ...", flush=True)
    config = SimulatorConfig(
        seed=9, domains=domains, days=days, requests_per_day=rows, now=datetime.now(UTC)
    )
    simulator = Simulator(config).start()
    sync_clock(simulator)
    return simulator


class Outage(threading.Thread):
    """Stops the server once it has answered `after` API calls, and brings it back on the
    same port, with the same data, `away_s` after it began to stop (later, if stopping
    took longer: the server first finishes the answers it holds)."""

    def __init__(self, simulator: Simulator, after: int, away_s: float) -> None:
        super().__init__(name="soak-outage", daemon=True)
        self._simulator = simulator
        self._after = after
        self._away_s = away_s
        self._cancelled = threading.Event()
        self.away_for_s: float | None = None  # once it happened: from stopping to serving

    def run(self) -> None:
        while not self._cancelled.wait(0.05):
            if len(self._simulator.request_log) >= self._after:
                port = urlsplit(self._simulator.base_url).port
                stopping = time.monotonic()
                self._simulator.stop()
                time.sleep(max(0.0, stopping + self._away_s - time.monotonic()))
                self._simulator.start(port=port or 0)
                sync_clock(self._simulator)
                self.away_for_s = time.monotonic() - stopping
                return

    def cancel(self) -> None:
        self._cancelled.set()
        self.join()


# Ground truth --------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """A partition of gcore_requests: one domain's UTC day."""

    day: date
    domain_id: int

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}|{self.domain_id}"


def window_ms(day: date) -> tuple[int, int]:
    """A UTC day as [midnight, next midnight) in UNIX milliseconds."""
    start = to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return start, start + DAY_MS


def pinned_ends(simulator: Simulator, today: date) -> dict[int, int]:
    """The last `end` (ms) each domain's requests of today were read up to, from the log."""
    ends: dict[int, int] = {}
    midnight = f"{today.isoformat()}T00:00:00.000Z"
    for request in simulator.request_log:
        params = request.query_params
        if request.path == REQUESTS_PATH and params.get("start") == midnight:
            end = datetime.fromisoformat(params["end"].replace("Z", "+00:00"))
            ends[int(params["domains"])] = to_ms(end)
    return ends


def expected_ids(
    simulator: Simulator, partitions: Sequence[Partition], today: date
) -> dict[Partition, set[str]]:
    """Each partition's request ids on the simulator: a past day whole, today up to the
    end its last read pinned (or up to now, if nothing read it)."""
    ends = pinned_ends(simulator, today)
    expected = {}
    for partition in partitions:
        start_ms, end_ms = window_ms(partition.day)
        if partition.day == today:
            end_ms = ends.get(partition.domain_id, to_ms(datetime.now(UTC)))
        records = simulator.dataset.records_between(partition.domain_id, start_ms, end_ms)
        expected[partition] = {record.summary["id"] for record in records}
    return expected


def loaded_ids(target: Install) -> dict[Partition, list[str]]:
    """Each partition's request ids in the lake, repeats kept (none: no lake yet)."""
    settings = waap_sessions.LakeSettings(
        catalog=target.env["WAAP_DUCKLAKE_CATALOG"], data_path=target.env["WAAP_DUCKLAKE_DATA_PATH"]
    )
    try:
        with waap_sessions.connect(read_only=True, settings=settings) as lake:
            rows = lake.execute(f"SELECT day, domain_id, id FROM {ASSET}").fetchall()
    except (waap_sessions.WarehouseError, duckdb.CatalogException):
        return {}
    loaded: dict[Partition, list[str]] = {}
    for day, domain_id, request_id in rows:
        loaded.setdefault(Partition(day, domain_id), []).append(request_id)
    return loaded


# One row -------------------------------------------------------------------------------


@dataclass
class Result:
    """What one row of the matrix found."""

    fault: str
    partitions: int
    expected: int = 0
    loaded: int = 0
    duplicates: int = 0
    missing: int = 0
    unexpected: int = 0
    runs: int = 0
    failed_runs: int = 0
    checks: int = 0
    checks_failed: int = 0
    seconds: float = 0.0
    away_for_s: float | None = None  # how long the server was away, if it went
    outage: bool | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return (
            self.loaded == self.expected
            and not (self.duplicates or self.missing or self.unexpected)
            and self.outage is not False
        )


def run_range(target: Install, partitions: Sequence[Partition]) -> tuple[bool, str]:
    """`dagster asset materialize` of the range, as a user backfills; (succeeded, output)."""
    first, last = partitions[0].key, partitions[-1].key
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", MODULE_NAME]
    command += ["--select", ASSET, "--partition-range", f"{first}...{last}"]
    try:
        process = run_process(command, target.env, timeout_s=RUN_TIMEOUT_S)
    except RuntimeError:  # killed: a run that hangs fails
        return False, f"TimeoutError: the run was killed after {RUN_TIMEOUT_S:.0f} s"
    return process.returncode == 0, process.output


def failure_line(output: str) -> str:
    """The error a failed run ended with: the package's own if one shows, not Dagster's
    wrapper or the library error under it."""
    errors = [line.strip() for line in output.splitlines() if ERROR_LINE.match(line.strip())]
    ours = [line for line in errors if line.startswith("waap_sessions.")]
    lines = ours or errors or output.strip().splitlines()[-1:] or ["(no output)"]
    return lines[-1][:240]


def run_row(
    fault: Fault,
    simulator: Simulator,
    folder: Path,
    partitions: Sequence[Partition],
    today: date,
) -> Result:
    """Load `partitions` under `fault` into a fresh install, re-run once if it failed, then
    compare the lake with the simulator."""
    result = Result(fault.name, len(partitions))
    target = install(simulator, folder)
    (folder / f"{MODULE_NAME}.py").write_text(DEFINITIONS_MODULE)
    env = {
        **target.env,
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "WAAP_START_DATE": partitions[0].day.isoformat(),
    }
    target = Install(target.folder, env)
    simulator.clear_log()
    simulator.faults = Faults(**fault.faults)
    started = time.perf_counter()
    outage = None
    if fault.away:
        pages = sum(
            len(simulator.dataset.records_between(p.domain_id, *window_ms(p.day))) // PAGE_SIZE + 1
            for p in partitions
        )
        outage = Outage(simulator, after=max(1, pages // 3), away_s=AWAY_S)
        outage.start()
    try:
        for _ in range(1 + RERUNS):
            succeeded, output = run_range(target, partitions)
            record = last_run(target)
            result.runs += 1
            result.checks += record.checks
            result.checks_failed += record.checks_failed
            if succeeded and record.succeeded:
                break
            result.failed_runs += 1
            result.errors.append(failure_line(output))
    finally:
        if outage is not None:
            outage.cancel()
            result.away_for_s = outage.away_for_s
            result.outage = outage.away_for_s is not None
        simulator.faults = Faults()
    result.seconds = time.perf_counter() - started
    expected = expected_ids(simulator, partitions, today)
    loaded = loaded_ids(target)
    for partition in partitions:
        ids = loaded.get(partition, [])
        unique = set(ids)
        result.expected += len(expected[partition])
        result.loaded += len(ids)
        result.duplicates += len(ids) - len(unique)
        result.missing += len(expected[partition] - unique)
        result.unexpected += len(unique - expected[partition])
    outside = [partition for partition in loaded if partition not in expected]
    result.loaded += sum(len(loaded[partition]) for partition in outside)
    result.unexpected += sum(len(set(loaded[partition])) for partition in outside)
    return result


# The matrix ----------------------------------------------------------------------------


def matrix_partitions(simulator: Simulator, days: int) -> tuple[list[Partition], date]:
    """Every day from `days` before today to today, times every domain, in range order."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    return [
        Partition(first + timedelta(days=offset), domain)
        for offset in range(days + 1)
        for domain in domain_ids(simulator)
    ], today


def print_table(results: Sequence[Result], rerun_note: str) -> None:
    print(f"\n{rerun_note}\n")
    print(
        "| fault | partitions | rows expected | rows loaded | duplicates | missing | "
        "unexpected | failed runs | checks failed | wall time | exactly once |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        verdict = "yes" if r.exact else "NO"
        if r.outage is False:
            verdict += " (the server never went away)"
        print(
            f"| {r.fault} | {r.partitions} | {r.expected:,} | {r.loaded:,} | {r.duplicates:,} | "
            f"{r.missing:,} | {r.unexpected:,} | {r.failed_runs} of {r.runs} | "
            f"{r.checks_failed} of {r.checks} | {r.seconds:.0f} s | {verdict} |"
        )
    for r in results:
        if r.away_for_s is not None:
            print(f"- {r.fault}: the server was away {r.away_for_s:.1f} s")
        for number, error in enumerate(r.errors, start=1):
            print(f"- {r.fault}, failed run {number}: {error}")


def run_matrix(
    faults: Sequence[Fault], domains: int, days: int, rows: int, folder: Path
) -> list[Result]:
    """Every row of `faults` over one simulator (restarted only by the outages)."""
    simulator = start_simulator(domains, days, rows)
    try:
        partitions, today = matrix_partitions(simulator, days)
        results = []
        for number, fault in enumerate(faults):
            print(f"{fault.name}: {len(partitions)} partitions ...", flush=True)
            result = run_row(fault, simulator, folder / f"row-{number}", partitions, today)
            print(
                f"  {result.loaded:,} of {result.expected:,} rows, {result.failed_runs} of "
                f"{result.runs} runs failed, {result.seconds:.0f} s",
                flush=True,
            )
            results.append(result)
        return results
    finally:
        simulator.stop()


def fault_names(text: str) -> list[Fault]:
    by_name = {fault.short: fault for fault in FAULTS}
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = set(chosen) - set(by_name)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown rows {sorted(unknown)}; known: {list(by_name)}")
    return [by_name[name] for name in chosen]


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shorts = ",".join(fault.short for fault in FAULTS)
    parser.add_argument("--only", type=fault_names, default=list(FAULTS), help=shorts)
    parser.add_argument("--domains", type=int, default=6, help="domains (partitions per day)")
    parser.add_argument("--days", type=int, default=4, help="complete days before today")
    parser.add_argument("--rows", type=int, default=2000, help="requests per domain-day")
    options = parser.parse_args(arguments)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="waap-bench-soak-") as name:
        results = run_matrix(options.only, options.domains, options.days, options.rows, Path(name))
    command = " ".join(["python -m bench.soak", *(arguments or sys.argv[1:])])
    print_table(
        results,
        f"Reproduce with `{command}`. One run per row loads the whole range; a failed run "
        f"is re-run once ({RERUNS} re-run), as the next schedule tick would.",
    )
    print(f"\nbench.soak took {time.perf_counter() - started:.0f} s")
    if not all(result.exact for result in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
