"""Benchmark of the warehouse's layouts: the old DuckDB file against the DuckLake, same run.

Each layout gets the same three measurements:
1. Concurrency: 3 writer processes each replace 20 partitions of `gcore_requests` (spread
   over 4 partition keys, so they collide on the table and at times on a partition),
   beside 2 reader processes that each hold ONE read-only connection for the whole
   workload and count every partition in a loop. Counted: replacements committed, lock or
   conflict errors the writers met, reader errors, and torn reads (a partition whose
   count is neither 0 nor its full size).
2. Load: one 1,000,000-row partition replaced in one transaction.
3. Query: `top_sessions_sql` for that partition on a read-only connection, best of 5.

The layouts: the old plain DuckDB file (`duckdb.connect`, partitions replaced with a plain
BEGIN/DELETE/INSERT/COMMIT), and the DuckLake through `open_lake` and `replace_partition`
with a SQLite catalog and, when PostgreSQL 15 is installed, a PostgreSQL catalog on a
throwaway server. The lake's figures are then given as ratios of the file's.

On the old file a reader holding the file open locks every writer out: writers retry
the open every 0.1 s (each failure counts as a lock error), give up a replacement after
10 s, and start no new one after a minute. That is the point of the measurement, and
why the warehouse moved to the lake. On the lake, the errors are the commit conflicts
`write_transaction` redid, plus any replacement it gave up.

Run with `python -m bench.lake` (`make bench` runs it after `python -m bench`); it
takes about three minutes on 2 cores.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from waap_sessions.lake import LakeSettings, open_lake, transaction
from waap_sessions.summaries import top_sessions_sql
from waap_sessions.warehouse import GCORE_REQUESTS, create_tables, replace_partition

WRITERS = 3
READERS = 2
REPLACEMENTS = 20  # per writer
PARTITION_ROWS = 20_000  # per replacement in the concurrent workload
# (day, domain_id): few enough that writers collide on the table and now and then on a key.
WORKLOAD_KEYS = [(date(2026, 11, day), 1) for day in (16, 17, 18, 19)]
LOAD_KEY = (date(2026, 11, 20), 2)
LOAD_ROWS = 1_000_000
QUERY_REPEATS = 5
COUNT_SQL = f"SELECT day, domain_id, count(*) FROM {GCORE_REQUESTS.name} GROUP BY ALL"

# Time bounds, so the bench ends whatever the layout does.
PATIENCE_S = 10.0  # a file writer gives up a replacement after retrying its lock this long
RETRY_PAUSE_S = 0.1  # between a file writer's tries
WRITE_LIMIT_S = 60.0  # no writer starts a replacement later than this into the workload
GRACE_S = 120.0  # beyond that: a lake write may still be backing off from its conflicts
START_LIMIT_S = 120.0  # spawned processes import Dagster: a few seconds each on 2 cores
READER_PAUSE_S = 0.05  # between a reader's queries, as a dashboard polls

SESSIONS = 4_000
LOADED_AT = datetime(2026, 11, 21, 3, tzinfo=UTC)
PG_BIN = Path("/usr/lib/postgresql/15/bin")

TIMESTAMP = pa.timestamp("ms", tz="UTC")
ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "DATE": pa.date32(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "TIMESTAMPTZ": TIMESTAMP,
}
SCHEMA = pa.schema([(column.name, ARROW_TYPES[column.type]) for column in GCORE_REQUESTS.columns])

Partition = tuple[date, int]
T = TypeVar("T")


# Synthetic requests ---------------------------------------------------------------------

HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
COUNTRIES = ["US", "DE", "FR", "GB", "NL", "CN", "RU", "BR", "IN", "JP", "SG", "UA", "PL", "CA"]
ORGANIZATIONS = [
    "Comcast Cable Communications, LLC",
    "Deutsche Telekom AG",
    "Amazon.com, Inc.",
    "Google LLC",
    "Hetzner Online GmbH",
    "OVH SAS",
    "DigitalOcean, LLC",
    "Orange S.A.",
    "China Telecom",
    "Microsoft Corporation",
]
USER_AGENTS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox"),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Safari",
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
    ("python-requests/2.32.3", "Python Requests"),
    ("curl/8.5.0", "curl"),
]
TRAFFIC_TYPES = ["Human", "Human,API", "Legit bot", "Bot", "API"]
PATHS = [
    "/",
    "/api/v1/products",
    "/search",
    "/api/v1/cart",
    "/login",
    "/static/app.js",
    "/static/style.css",
    "/checkout",
    "/account",
    "/api/v1/session",
    "/wp-login.php",
    "/.env",
]
METHODS = (["GET", "POST", "HEAD", "PUT", "OPTIONS"], [0.78, 0.16, 0.03, 0.02, 0.01])
SCHEMES = (["https", "http"], [0.97, 0.03])
HTTP_VERSIONS = (["2.0", "1.1", "3.0"], [0.6, 0.3, 0.1])
STATUS_CODES = ([200, 304, 301, 404, 500], [0.8, 0.08, 0.05, 0.06, 0.01])
# A decision and the result Gcore reports with it, by index.
DECISIONS = (["passed", "allowed", "monitored", "blocked", ""], [0.86, 0.03, 0.04, 0.06, 0.01])
RESULTS = ["passed", "passed", "suppressed", "blocked", ""]
MONITORED, BLOCKED = 2, 3
# The rule a monitored or blocked request triggered: id, name, action; none for the others.
RULES = [
    ("", "", ""),
    ("S1001", "SQL injection", "block"),
    ("S1002", "Cross-site scripting", "block"),
    ("B2001", "Bad bot", "captcha"),
    ("R3001", "Rate limit", "block"),
    ("P4001", "Path traversal", "monitor"),
]
OPTIONAL_ACTIONS = (["", "captcha", "challenge"], [0.7, 0.2, 0.1])
POLICY_OVERRIDES = (
    [
        None,
        '[{"rule_id": "S1001", "action": "allow"}]',
        '[{"rule_id": "B2001", "action": "monitor"}]',
    ],
    [0.98, 0.01, 0.01],
)


def skewed(count: int, exponent: float = 1.1) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Zipf-like probabilities: the first value is the most likely, the long tail rare."""
    weights = np.arange(1, count + 1, dtype=np.float64) ** -exponent
    return weights / float(weights.sum())


def pick(
    rng: np.random.Generator,
    count: int,
    values: Sequence[Any],
    p: Sequence[float] | np.ndarray[Any, Any] | None = None,
) -> pa.Array:
    """`count` values drawn from `values` (with probabilities `p`), as an Arrow array."""
    return pa.array(values).take(pa.array(rng.choice(len(values), size=count, p=p)))


def ascii_strings(characters: np.ndarray[Any, np.dtype[np.uint8]]) -> pa.Array:
    """One string per row of an (n, width) array of ASCII codes, built without a loop."""
    count, width = characters.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(characters).tobytes()
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def hex_characters(rng: np.random.Generator, count: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """`count` rows of 32 random lower-case hex digits, as ASCII codes."""
    return HEX_DIGITS[rng.integers(0, 16, size=(count, 32), dtype=np.uint8)]


def synthetic_requests(rows: int, day: date, domain_id: int, seed: int) -> pa.Table:
    """One partition of plausible `gcore_requests` rows, typed as the table declares.

    Sessions are drawn from a few thousand with a skewed distribution (a few busy ones, a
    long tail), and each keeps one IP, country, organisation and user agent; a few
    requests have no session. Monitored and blocked requests carry a rule.
    """
    rng = np.random.default_rng(seed)
    session = pa.array(rng.choice(SESSIONS, size=rows, p=skewed(SESSIONS)))
    no_session = pa.array(rng.random(rows) < 0.04)
    octets = rng.integers(1, 255, size=(4, SESSIONS))
    session_ips = pc.binary_join_element_wise(
        *(pa.array(octet).cast(pa.string()) for octet in octets), "."
    )
    agent = rng.choice(len(USER_AGENTS), size=SESSIONS, p=skewed(len(USER_AGENTS), 1.5))
    fingerprints = ascii_strings(hex_characters(rng, len(USER_AGENTS))).take(agent)

    decision = rng.choice(len(DECISIONS[0]), size=rows, p=DECISIONS[1])
    blocked = decision == BLOCKED
    ruled = blocked | (decision == MONITORED)
    rule = pa.array(np.where(ruled, rng.integers(1, len(RULES), size=rows), 0))
    status = np.where(blocked, 403, rng.choice(STATUS_CODES[0], size=rows, p=STATUS_CODES[1]))
    optional_action = pc.if_else(
        pa.array(blocked), pick(rng, rows, *OPTIONAL_ACTIONS), pa.scalar("", pa.string())
    )
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    times = start + np.sort(rng.integers(0, 86_400_000, size=rows))
    serial = (np.arange(rows) % 1_000_000)[:, None] // 10 ** np.arange(5, -1, -1) % 10
    ids = np.concatenate(
        [
            hex_characters(rng, rows),
            np.full((rows, 1), ord("-"), dtype=np.uint8),
            (serial + ord("0")).astype(np.uint8),
        ],
        axis=1,
    )

    columns = {
        "id": ascii_strings(ids),
        "day": pa.repeat(pa.scalar(day, pa.date32()), rows),
        "domain_id": pa.repeat(pa.scalar(domain_id, pa.int64()), rows),
        "domain": pa.repeat(pa.scalar(f"shop-{domain_id}.example.com"), rows),
        "request_time": pa.array(times, TIMESTAMP),
        "session_id": pc.if_else(
            no_session, "", ascii_strings(hex_characters(rng, SESSIONS)).take(session)
        ),
        "client_ip": session_ips.take(session),
        "country": pick(rng, SESSIONS, COUNTRIES, skewed(len(COUNTRIES))).take(session),
        "organization": pick(rng, SESSIONS, ORGANIZATIONS, skewed(len(ORGANIZATIONS))).take(
            session
        ),
        "method": pick(rng, rows, *METHODS),
        "path": pick(rng, rows, PATHS, skewed(len(PATHS))),
        "scheme": pick(rng, rows, *SCHEMES),
        "http_version": pick(rng, rows, *HTTP_VERSIONS),
        "status_code": pa.array(status, pa.int32()),
        "decision": pa.array(DECISIONS[0]).take(pa.array(decision)),
        "optional_action": optional_action,
        "result": pa.array(RESULTS).take(pa.array(decision)),
        "action": pa.array([action for _, _, action in RULES]).take(rule),
        "rule_id": pa.array([rule_id for rule_id, _, _ in RULES]).take(rule),
        "rule_name": pa.array([name for _, name, _ in RULES]).take(rule),
        "reference_id": pc.if_else(pa.array(blocked), ascii_strings(hex_characters(rng, rows)), ""),
        "traffic_types": pick(rng, SESSIONS, TRAFFIC_TYPES, skewed(len(TRAFFIC_TYPES))).take(
            session
        ),
        "user_agent": pa.array([text for text, _ in USER_AGENTS]).take(agent).take(session),
        "user_agent_client": pa.array([name for _, name in USER_AGENTS]).take(agent).take(session),
        "ja3": fingerprints.take(session),
        "policy_override": pick(rng, rows, *POLICY_OVERRIDES),
        "loaded_at": pa.repeat(pa.scalar(LOADED_AT, TIMESTAMP), rows),
    }
    return pa.Table.from_pydict(columns, schema=SCHEMA)


# Layouts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the tables live: the old plain DuckDB file, or a DuckLake."""

    name: str
    file: Path | None = None
    lake: LakeSettings | None = None

    def connect(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        if self.lake is not None:
            return open_lake(self.lake, read_only=read_only)
        assert self.file is not None
        return duckdb.connect(str(self.file), read_only=read_only)

    def replace(
        self, connection: duckdb.DuckDBPyConnection, partition: Partition, rows: pa.Table
    ) -> None:
        """Swap one partition's rows: the lake's way, or the old file's plain transaction."""
        day, domain_id = partition
        if self.lake is not None:
            replace_partition(
                connection, GCORE_REQUESTS, {"day": day, "domain_id": domain_id}, rows
            )
            return
        with transaction(connection):
            connection.execute(
                f"DELETE FROM {GCORE_REQUESTS.name} WHERE day = ? AND domain_id = ?",
                [day, domain_id],
            )
            connection.register("incoming_rows", rows)
            connection.execute(
                f"INSERT INTO {GCORE_REQUESTS.name} BY NAME SELECT * FROM incoming_rows"
            )
            connection.unregister("incoming_rows")


# The concurrent workload ----------------------------------------------------------------


@dataclass
class WriterReport:
    committed: int = 0
    given_up: int = 0  # replacements that failed for good
    errors: int = 0  # lock or conflict errors met, whether redone or given up
    first_error: str | None = None
    first_failure: str | None = None

    def met(self, error: str | None, count: int = 1) -> None:
        self.errors += count
        self.first_error = self.first_error or error

    def gave_up(self, error: str) -> None:
        self.given_up += 1
        self.first_failure = self.first_failure or error


@dataclass
class ReaderReport:
    reads: int = 0
    errors: int = 0
    torn: int = 0
    first_error: str | None = None
    first_torn: str | None = None


class ConflictCounter(logging.Handler):
    """Counts the commit conflicts `write_transaction` redid: it logs a warning for each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.first = self.first or record.getMessage()


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:160]


def replace_in_file(
    layout: Layout, partition: Partition, rows: pa.Table, report: WriterReport
) -> None:
    """Open the file, replace, close: a lock error is retried until PATIENCE_S has passed."""
    give_up_at = time.monotonic() + PATIENCE_S
    while True:
        try:
            with contextlib.closing(layout.connect(read_only=False)) as connection:
                layout.replace(connection, partition, rows)
        except duckdb.Error as error:
            report.met(describe(error))
            if time.monotonic() >= give_up_at:
                report.gave_up(f"given up after {PATIENCE_S:.0f} s: {describe(error)}")
                return
            time.sleep(RETRY_PAUSE_S)
        else:
            report.committed += 1
            return


def replace_in_lake(
    layout: Layout,
    connection: duckdb.DuckDBPyConnection,
    partition: Partition,
    rows: pa.Table,
    report: WriterReport,
) -> None:
    """Replace through `replace_partition`, which redoes lost commits by itself."""
    try:
        layout.replace(connection, partition, rows)
    except Exception as error:  # a conflict it gave up on, or anything else: counted
        report.met(describe(error))
        report.gave_up(describe(error))
    else:
        report.committed += 1


def write_loop(
    layout: Layout, number: int, ready: Queue[str], go: Event, reports: Queue[object]
) -> None:
    """One writer process: its share of the replacements, until done or out of time.

    A lake writer keeps one connection, as a run does; a file writer must open the file
    for each replacement, or it would lock out everyone else for as long as it runs.
    """
    conflicts = ConflictCounter()
    logging.getLogger("waap_sessions.lake").addHandler(conflicts)
    connection = layout.connect(read_only=False) if layout.lake is not None else None
    report = WriterReport()
    ready.put(f"writer {number}")
    go.wait()
    stop_at = time.monotonic() + WRITE_LIMIT_S
    for replacement in range(REPLACEMENTS):
        if time.monotonic() >= stop_at:
            break
        partition = WORKLOAD_KEYS[(number + replacement) % len(WORKLOAD_KEYS)]
        rows = synthetic_requests(PARTITION_ROWS, *partition, seed=1_000 * number + replacement)
        if connection is None:
            replace_in_file(layout, partition, rows, report)
        else:
            replace_in_lake(layout, connection, partition, rows, report)
    if connection is not None:
        connection.close()
    report.met(conflicts.first, conflicts.count)
    reports.put(report)


def read_loop(
    layout: Layout,
    expected: dict[Partition, int],
    ready: Queue[str],
    stop: Event,
    reports: Queue[object],
) -> None:
    """One reader process: ONE read-only connection held for the whole workload."""
    connection = layout.connect(read_only=True)
    report = ReaderReport()
    ready.put("reader")
    while not stop.is_set():
        try:
            counts = connection.execute(COUNT_SQL).fetchall()
        except duckdb.Error as error:
            report.errors += 1
            report.first_error = report.first_error or describe(error)
        else:
            report.reads += 1
            for day, domain_id, rows in counts:
                if rows != expected.get((day, domain_id)):
                    report.torn += 1
                    report.first_torn = report.first_torn or (
                        f"torn read: {day} domain {domain_id} had {rows} rows, "
                        f"not {expected.get((day, domain_id))}"
                    )
        stop.wait(READER_PAUSE_S)
    connection.close()
    reports.put(report)


def receive(source: Queue[T], processes: Sequence[SpawnProcess], limit_s: float, what: str) -> T:
    """The next message, failing fast when a process died and after `limit_s` at most."""
    give_up_at = time.monotonic() + limit_s
    while time.monotonic() < give_up_at:
        with contextlib.suppress(queue.Empty):
            return source.get(timeout=1)
        if any(process.exitcode not in (None, 0) for process in processes):
            raise RuntimeError(f"a process died while waiting for {what} (traceback above)")
    raise RuntimeError(f"no {what} within {limit_s:.0f} s")


@dataclass
class Workload:
    seconds: float
    writers: list[WriterReport]
    readers: list[ReaderReport]


def run_workload(layout: Layout, expected: dict[Partition, int]) -> Workload:
    """The writers and readers in their own processes; timed from the writers' start."""
    spawn = multiprocessing.get_context("spawn")
    ready: Queue[str] = spawn.Queue()
    reports: Queue[Any] = spawn.Queue()
    go, stop = spawn.Event(), spawn.Event()
    readers = [
        spawn.Process(target=read_loop, args=(layout, expected, ready, stop, reports))
        for _ in range(READERS)
    ]
    writers = [
        spawn.Process(target=write_loop, args=(layout, number, ready, go, reports))
        for number in range(WRITERS)
    ]
    processes = [*readers, *writers]
    try:
        # The readers hold their connections before any writer starts.
        for group in (readers, writers):
            for process in group:
                process.start()
            for _ in group:
                receive(ready, processes, START_LIMIT_S, "a process to start")
        started = time.perf_counter()
        go.set()
        written: list[WriterReport] = [
            receive(reports, processes, WRITE_LIMIT_S + GRACE_S, "the writers' reports")
            for _ in writers
        ]
        seconds = time.perf_counter() - started
        stop.set()
        read: list[ReaderReport] = [
            receive(reports, processes, GRACE_S, "the readers' reports") for _ in readers
        ]
        for process in processes:
            process.join(timeout=GRACE_S)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    return Workload(seconds, written, read)


# Load, query, and the whole run ---------------------------------------------------------


@dataclass
class Figures:
    layout: str
    workload: Workload
    load_s: float
    query_ms: float

    @property
    def committed(self) -> int:
        return sum(writer.committed for writer in self.workload.writers)

    @property
    def write_errors(self) -> int:
        return sum(writer.errors for writer in self.workload.writers)

    @property
    def reader_errors(self) -> int:
        return sum(reader.errors for reader in self.workload.readers)

    @property
    def reads(self) -> int:
        return sum(reader.reads for reader in self.workload.readers)

    @property
    def torn_reads(self) -> int:
        return sum(reader.torn for reader in self.workload.readers)

    def notes(self) -> list[str]:
        """What went wrong: replacements lost, and the first error of each kind."""
        writers, readers = self.workload.writers, self.workload.readers
        given_up = sum(writer.given_up for writer in writers)
        not_started = WRITERS * REPLACEMENTS - self.committed - given_up
        examples = {
            "first lock/conflict error": [writer.first_error for writer in writers],
            "first replacement given up": [writer.first_failure for writer in writers],
            "first reader error": [reader.first_error for reader in readers],
            "first torn read": [reader.first_torn for reader in readers],
        }
        return [
            *([f"{given_up} replacements given up"] if given_up else []),
            *([f"{not_started} not started within {WRITE_LIMIT_S:.0f} s"] if not_started else []),
            *(
                f"{kind}: {next(found for found in errors if found)}"
                for kind, errors in examples.items()
                if any(errors)
            ),
        ]


def best_of(repeats: int, run: Callable[[], T]) -> tuple[float, T]:
    """The fastest of `repeats` runs (seconds), and what the last run returned."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(layout: Layout, load: pa.Table) -> tuple[Figures, list[tuple[Any, ...]]]:
    """All three measurements on one fresh layout; also the top sessions it answered."""
    print(f"measuring {layout.name} ...", flush=True)
    with contextlib.closing(layout.connect(read_only=False)) as connection:
        create_tables(connection)
    workload = run_workload(layout, dict.fromkeys(WORKLOAD_KEYS, PARTITION_ROWS))
    with contextlib.closing(layout.connect(read_only=False)) as connection:
        load_s, _ = best_of(1, lambda: layout.replace(connection, LOAD_KEY, load))
    day, domain_id = LOAD_KEY
    with contextlib.closing(layout.connect(read_only=True)) as connection:
        query_s, top = best_of(
            QUERY_REPEATS,
            lambda: connection.execute(top_sessions_sql(day, domain_id)).fetchall(),
        )
    return Figures(layout.name, workload, load_s, query_s * 1000), top


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """A throwaway PostgreSQL on 127.0.0.1, for a DuckLake catalog: its catalog string.

    None when PostgreSQL is not installed. As root, the server runs as `postgres`, which
    PostgreSQL requires.
    """
    if not (PG_BIN / "pg_ctl").exists():
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="waap-bench-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_postgres = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()

    def run(program: str, *arguments: str) -> None:
        subprocess.run(  # noqa: S603 (our own arguments)
            [*as_postgres, str(PG_BIN / program), *arguments],
            check=True,
            capture_output=True,
            timeout=120,
        )

    try:
        run("initdb", "-A", "trust", "-U", "waap", "-D", str(data))
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        run("pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        try:
            run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "waap", "lake")
            yield f"postgres:dbname=lake host=127.0.0.1 port={port} user=waap"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def print_figures(figures: list[Figures]) -> None:
    header = (
        f"{'layout':<26}{'committed':>10}{'lock/conflict':>15}{'reader':>8}{'reads':>7}"
        f"{'torn':>6}{'workload':>10}{'1M-row load':>13}{'top sessions':>14}"
    )
    units = (
        f"{'':<26}{f'of {WRITERS * REPLACEMENTS}':>10}{'errors':>15}{'errors':>8}{'':>7}"
        f"{'reads':>6}{'s':>10}{'s':>13}{'ms':>14}"
    )
    print(f"\n{header}\n{units}")
    for row in figures:
        print(
            f"{row.layout:<26}{row.committed:>10}{row.write_errors:>15}{row.reader_errors:>8}"
            f"{row.reads:>7}{row.torn_reads:>6}{row.workload.seconds:>10.1f}"
            f"{row.load_s:>13.2f}{row.query_ms:>14.1f}"
        )
    file, *lakes = figures
    for lake in lakes:
        print(
            f"\n{lake.layout} against the old file: committed {lake.committed} vs "
            f"{file.committed} of {WRITERS * REPLACEMENTS}; "
            f"workload time = {lake.workload.seconds / file.workload.seconds:.2f}x the file's; "
            f"1M-row load time = {lake.load_s / file.load_s:.2f}x the file's; "
            f"top-sessions query time = {lake.query_ms / file.query_ms:.2f}x the file's"
        )
    for row in figures:
        print(f"\n{row.layout}:")
        for line in row.notes() or ["no errors"]:
            print(f"  {line}")


def main() -> None:
    started = time.perf_counter()
    load = synthetic_requests(LOAD_ROWS, *LOAD_KEY, seed=7)
    figures = []
    tops = []
    with tempfile.TemporaryDirectory(prefix="waap-bench-") as folder:
        root = Path(folder)

        def lake(catalog: str, name: str) -> LakeSettings:
            return LakeSettings(catalog=catalog, data_path=str(root / name))

        layouts = [
            Layout("old: DuckDB file", file=root / "warehouse.duckdb"),
            Layout("lake: SQLite catalog", lake=lake(f"sqlite:{root / 'catalog.sqlite'}", "s")),
        ]
        for layout in layouts:
            figure, top = measure(layout, load)
            figures.append(figure)
            tops.append(top)
        with postgres_server() as catalog:
            if catalog is None:
                print(f"lake: PostgreSQL catalog skipped: no PostgreSQL 15 in {PG_BIN}")
            else:
                figure, top = measure(
                    Layout("lake: PostgreSQL catalog", lake=lake(catalog, "p")), load
                )
                figures.append(figure)
                tops.append(top)
    assert all(top == tops[0] for top in tops), "the layouts disagree on the top sessions"
    print_figures(figures)
    print(f"\nbench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
