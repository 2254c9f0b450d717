"""The fault matrix's fast subset (`make soak` runs it whole): real runs, exactly once.

Two rows of `bench.soak` over 4 partitions (yesterday and today, two domains): 5xx with
new requests arriving while today is paged, and the server going away mid-run and
coming back. Each loads the range with `dagster asset materialize` in a process of its
own (re-run once if it failed, as the next schedule tick would), then the lake must hold
every request of the simulator's ground truth exactly once.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak import (
    SINGLE_FAULTS,
    Fault,
    matrix_partitions,
    run_row,
    start_simulator,
)
from waap_sessions.simulator import Simulator

FAULTS = {fault.short: fault for fault in SINGLE_FAULTS}
FIVE_XX_AND_ARRIVALS = Fault(
    "5xx + arrivals",
    "5xx+arrivals",
    {**FAULTS["5xx"].faults, **FAULTS["arrivals"].faults},
)


@pytest.fixture(scope="module")
def soak_simulator() -> Iterator[Simulator]:
    """Its own simulator: the rows add arrivals and stop and restart its server."""
    simulator = start_simulator(domains=2, days=1, rows=300)
    try:
        yield simulator
    finally:
        simulator.stop()


def test_5xx_with_arrivals_loads_every_row_exactly_once(
    soak_simulator: Simulator, tmp_path: Path
) -> None:
    partitions, today = matrix_partitions(soak_simulator, days=1)
    version = soak_simulator.dataset.version

    result = run_row(FIVE_XX_AND_ARRIVALS, soak_simulator, tmp_path, partitions, today)

    assert soak_simulator.dataset.version > version, "requests arrived while the run paged"
    assert any(entry.status == 500 for entry in soak_simulator.request_log)
    assert result.expected > 0
    assert (result.duplicates, result.missing, result.unexpected) == (0, 0, 0), result
    assert result.loaded == result.expected
    assert result.exact


def test_server_away_and_back_loads_every_row_exactly_once(
    soak_simulator: Simulator, tmp_path: Path
) -> None:
    partitions, today = matrix_partitions(soak_simulator, days=1)

    result = run_row(FAULTS["away"], soak_simulator, tmp_path, partitions, today)

    assert result.outage, "the server went away during the run"
    assert result.expected > 0
    assert (result.duplicates, result.missing, result.unexpected) == (0, 0, 0), result
    assert result.loaded == result.expected
    assert result.exact
