"""Benchmarks of the API layer against the simulator, as ratios to a same-run baseline.

1. Concurrent paging: one domain-day with 20 ms of latency per answer, read with up to
   8 requests in flight, against the same client reading one page at a time.
2. Client overhead: the full client (validation, dedupe, drift counting) against a bare
   httpx loop that only decodes JSON, over the same pages with no added latency.
3. Warehouse writes: one partition replaced from its staged pages in one transaction
   (as the assets do), against inserting the same rows one at a time with `executemany`.

Run with `make bench`; it takes about a minute on 2 cores (the row-at-a-time baseline
alone takes half of it).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx

from waap_sessions.gcore import GcoreWaapClient, RequestSummary
from waap_sessions.http_core import HttpSettings
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions.staging import staged_requests
from waap_sessions.warehouse import GCORE_REQUESTS, create_tables, replace_partition

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DAY_START = datetime(2026, 11, 19, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
REPEATS = 3


def best_of(repeats: int, run: Callable[[], int]) -> tuple[float, int]:
    """The fastest of `repeats` runs (seconds), and the rows the last run read."""
    times = []
    rows = 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - started)
    return min(times), rows


def read_day(simulator: Simulator, domain_id: int, max_in_flight: int) -> int:
    settings = HttpSettings(base_url=simulator.base_url, max_in_flight=max_in_flight)
    with GcoreWaapClient(simulator.config.gcore_api_key, settings) as client:
        return sum(1 for _ in client.iter_requests(DAY_START, DAY_END, domains=[domain_id]))


def read_day_bare(simulator: Simulator, domain_id: int) -> int:
    """The least a reader can do: page with httpx and decode JSON, nothing else."""
    headers = {"Authorization": f"APIKey {simulator.config.gcore_api_key}"}
    rows = 0
    with httpx.Client(base_url=simulator.base_url, headers=headers) as client:
        offset = 0
        while True:
            params: dict[str, str | int] = {
                "start": DAY_START.isoformat(),
                "end": DAY_END.isoformat(),
                "domains": domain_id,
                "ordering": "request_time",
                "limit": 100,
                "offset": offset,
            }
            page = json.loads(client.get("/waap/v1/analytics/requests", params=params).content)
            rows += len(page["results"])
            if len(page["results"]) < 100:
                return rows
            offset += 100


def write_partition(rows: list[RequestSummary], row_at_a_time: bool) -> int:
    """Write one partition into a fresh DuckDB file; returns the rows written."""
    with tempfile.TemporaryDirectory() as folder, staged_requests(folder) as staged:
        staged.add(rows)
        selected = staged.as_rows(DAY_START.date(), datetime.now(UTC))
        connection = duckdb.connect(str(Path(folder) / "bench.duckdb"))
        create_tables(connection)
        if row_at_a_time:
            values = connection.execute(selected.sql).fetchall()
            marks = ", ".join("?" for _ in GCORE_REQUESTS.column_names)
            connection.executemany(f"INSERT INTO {GCORE_REQUESTS.name} VALUES ({marks})", values)
        else:
            partition = {"day": DAY_START.date(), "domain_id": rows[0].domain_id}
            replace_partition(connection, GCORE_REQUESTS, partition, selected)
        written = connection.execute(f"SELECT count(*) FROM {GCORE_REQUESTS.name}").fetchall()
        connection.close()
        return int(written[0][0])


def main() -> None:
    config = SimulatorConfig(
        seed=3, domains=1, days=1, requests_per_day=20_000, exact_volume=True, now=NOW
    )
    with Simulator(config) as simulator:
        domain_id = simulator.dataset.domains[0].id
        read_day_bare(simulator, domain_id)  # warm the simulator's caches

        simulator.faults = Faults(latency_s=0.02)
        sequential, rows = best_of(REPEATS, lambda: read_day(simulator, domain_id, 1))
        concurrent, same = best_of(REPEATS, lambda: read_day(simulator, domain_id, 8))
        assert rows == same

        simulator.faults = Faults()
        bare, bare_rows = best_of(REPEATS, lambda: read_day_bare(simulator, domain_id))
        full, full_rows = best_of(REPEATS, lambda: read_day(simulator, domain_id, 1))
        assert bare_rows == full_rows == rows
        day_rows = [
            RequestSummary.model_validate(row)
            for row in simulator.dataset.requests(domain_id)
            if DAY_START.timestamp() * 1000 <= row["request_time"] < DAY_END.timestamp() * 1000
        ]
    one_by_one, written = best_of(1, lambda: write_partition(day_rows, row_at_a_time=True))
    bulk, same_written = best_of(REPEATS, lambda: write_partition(day_rows, row_at_a_time=False))
    assert written == same_written == len(day_rows)

    pages = rows // 100 + 1
    print(f"one domain-day: {rows} requests in {pages} pages (best of {REPEATS})")
    print(
        f"1. paging with 20 ms latency: one in flight {sequential:.2f} s, "
        f"8 in flight {concurrent:.2f} s -> {sequential / concurrent:.1f}x faster"
    )
    print(
        f"2. client overhead, no latency: bare httpx {bare:.2f} s, full client {full:.2f} s "
        f"-> {full / bare:.2f}x the bare time ({rows / full:,.0f} rows/s)"
    )
    print(f"   {full / pages * 1000:.2f} ms per page through the full client")
    print(
        f"3. writing the partition: row at a time {one_by_one:.2f} s, "
        f"staged, in one transaction {bulk:.3f} s -> {one_by_one / bulk:.0f}x faster"
    )


if __name__ == "__main__":
    main()
