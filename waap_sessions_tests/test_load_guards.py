"""What a load of gcore_requests may write, through real Dagster runs against the simulator.

The completeness check compares a partition with the API's count of exactly the window
read, so rows arriving while paging and a server that takes `end` as inclusive are no
false alarm, while rows really missing still are. A load whose rows cannot be the
partition (every `request_time` outside the day) fails before it writes anything.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from waap_sessions.assets import RequestsConfig
from waap_sessions.lake import open_lake
from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
from waap_sessions.warehouse import PARTITION_LOADS
from waap_sessions_tests.conftest import (
    ASSETS,
    CHECKS,
    gcore_ip_top_sessions,
    gcore_requests,
    lake_settings,
    pipeline_resources,
    query,
    top_sessions,
)

ROW_COUNT = dg.AssetCheckKey(dg.AssetKey("gcore_requests"), "row_count_matches_api")
REQUEST_CHECKS = [c for c in CHECKS if {k.asset_key for k in c.check_keys} == {ROW_COUNT.asset_key}]
# A past day of a fixed simulated clock (the wall clock is days past it).
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PAST_DAY = date(2026, 11, 19)
RELOAD = dg.RunConfig(ops={"gcore_requests": RequestsConfig(reload_unchanged=True)})


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def load(
    simulator: Simulator,
    lake: Path,
    instance: dg.DagsterInstance,
    key: str,
    assets: list | None = None,
    run_config: dg.RunConfig | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of a partition of gcore_requests (and `assets`) with its checks."""
    instance.add_dynamic_partitions("gcore_domains", [key.split("|")[1]])
    return dg.materialize(
        assets or [gcore_requests, *REQUEST_CHECKS],
        instance=instance,
        resources=pipeline_resources(simulator, lake),
        partition_key=key,
        run_config=run_config,
        raise_on_error=False,
    )


def row_count_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.asset_check_key == ROW_COUNT
    ]
    return evaluation


def stored_ids(lake: Path, day: date, domain_id: int) -> list[str]:
    return [
        row[0]
        for row in query(
            lake, "SELECT id FROM gcore_requests WHERE day = ? AND domain_id = ?", [day, domain_id]
        )
    ]


def test_today_loaded_while_requests_arrive_passes_the_row_count_check(tmp_path: Path) -> None:
    """Requests keep arriving into today's window while it is paged: the first page's
    count is stale by the end, the count of the window as read is not."""
    wall = datetime.now(UTC)
    today = wall.date()
    # The simulated clock a minute behind the wall clock: arrivals land inside the
    # window the load pins at the wall clock's now, as an ingestion delay would put them.
    config = SimulatorConfig(
        seed=11,
        domains=1,
        days=1,
        requests_per_day=20_000,
        now=max(wall - timedelta(minutes=1), midnight(today)),
    )
    with Simulator(config) as simulator, dg.instance_for_test() as instance:
        domain_id = simulator.dataset.domains[0].id
        before = sum(
            row["request_time"] >= millis(midnight(today))
            for row in simulator.dataset.requests(domain_id)
        )
        simulator.faults = Faults(arrivals_per_request=5)
        result = load(simulator, tmp_path, instance, f"{today}|{domain_id}")
        simulator.faults = Faults()
        source = simulator.dataset.requests(domain_id)

    ids = stored_ids(tmp_path, today, domain_id)
    assert result.success
    assert len(ids) > before, "requests arrived into the window while it was read"
    newest = max(row["request_time"] for row in source if row["id"] in set(ids))
    expected = {
        row["id"] for row in source if millis(midnight(today)) <= row["request_time"] <= newest
    }
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    evaluation = row_count_check(result)
    assert evaluation.passed, evaluation.metadata
    ((recorded,),) = query(
        tmp_path,
        f"SELECT api_reported_count FROM {PARTITION_LOADS} WHERE table_name = 'gcore_requests'",
    )
    assert recorded == len(ids)


def end_inclusive_simulator() -> tuple[Simulator, int, str]:
    """A server that takes `end` as inclusive, with the next day's first request at
    exactly midnight: it counts (and serves) that request in the past day's window."""
    config = SimulatorConfig(
        seed=13, domains=1, days=2, requests_per_day=3000, now=NOW, gcore_end_inclusive=True
    )
    simulator = Simulator(config)
    domain_id = simulator.dataset.domains[0].id
    first_of_next_day = simulator.dataset.add_request(domain_id, midnight(PAST_DAY + timedelta(1)))
    return simulator, domain_id, first_of_next_day["id"]


def past_day_ids(simulator: Simulator, domain_id: int) -> set[str]:
    start = millis(midnight(PAST_DAY))
    return {
        row["id"]
        for row in simulator.dataset.requests(domain_id)
        if start <= row["request_time"] < start + 86_400_000
    }


def test_an_end_inclusive_server_passes_the_row_count_check_with_the_rows_exact(
    tmp_path: Path,
) -> None:
    simulator, domain_id, next_days_first = end_inclusive_simulator()
    with simulator, dg.instance_for_test() as instance:
        result = load(simulator, tmp_path, instance, f"{PAST_DAY}|{domain_id}")
        expected = past_day_ids(simulator, domain_id)

    ids = stored_ids(tmp_path, PAST_DAY, domain_id)
    assert result.success
    assert sorted(ids) == sorted(expected)
    assert next_days_first not in ids
    evaluation = row_count_check(result)
    assert evaluation.passed, evaluation.metadata


def test_rows_really_missing_still_fail_the_row_count_check(tmp_path: Path) -> None:
    """The count of the window read is no blanket excuse: rows lost after the load fail."""
    simulator, domain_id, _ = end_inclusive_simulator()
    with simulator, dg.instance_for_test() as instance:
        assert load(simulator, tmp_path, instance, f"{PAST_DAY}|{domain_id}").success
        lake = open_lake(lake_settings(tmp_path), read_only=False)
        try:
            lake.execute(
                "DELETE FROM gcore_requests WHERE id IN "
                "(SELECT id FROM gcore_requests ORDER BY id LIMIT 3)"
            )
        finally:
            lake.close()
        result = dg.materialize(
            [*ASSETS.values(), *CHECKS],
            instance=instance,
            resources=pipeline_resources(simulator, tmp_path),
            selection=dg.AssetSelection.checks(ROW_COUNT),
            raise_on_error=False,
        )

    evaluation = row_count_check(result)
    assert not evaluation.passed
    assert evaluation.metadata["violations"].value == 1
    (example,) = evaluation.metadata["examples"].value
    assert example["api_reported_count"] - example["rows_in_table"] == 3


def test_request_times_in_seconds_fail_the_load_before_it_writes(tmp_path: Path) -> None:
    """Gcore switching `request_time` to seconds puts every row outside the day: the run
    fails naming that, and the stored partition and its top sessions stay as they were."""
    config = SimulatorConfig(seed=17, domains=1, days=2, requests_per_day=3000, now=NOW)
    chain = [gcore_requests, gcore_ip_top_sessions, top_sessions]
    with dg.instance_for_test() as instance:
        with Simulator(config) as simulator:
            domain_id = simulator.dataset.domains[0].id
            key = f"{PAST_DAY}|{domain_id}"
            assert load(simulator, tmp_path, instance, key, chain).success
        tables = ("gcore_requests", "gcore_ip_top_sessions", "top_sessions")
        before = {t: query(tmp_path, f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
        assert all(before.values())

        in_seconds = config.model_copy(update={"gcore_time_unit": "s"})
        with Simulator(in_seconds) as simulator:
            result = load(simulator, tmp_path, instance, key, chain, run_config=RELOAD)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    error = failure.event_specific_data.error.cause  # Dagster wraps what the step raised
    assert error.cls_name == "LoadRefusedError"
    assert "\n" not in error.message.strip()
    assert "outside the day" in error.message
    assert "unit" in error.message
    assert key in error.message
    after = {t: query(tmp_path, f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
    assert after == before


def test_a_cut_listing_fails_the_check_and_may_not_replace_a_stored_partition(
    tmp_path: Path,
) -> None:
    """A server whose pages stop at offset 1,000 while its count says 3,000: a first load
    keeps the fragment and the completeness check fails it (rows really missing); a
    reload of the whole partition that was loaded before is refused before writing."""
    config = SimulatorConfig(seed=19, domains=1, days=2, requests_per_day=3000, now=NOW)
    cut = config.model_copy(update={"gcore_listing_cut_at": 1000})
    with dg.instance_for_test() as instance:
        with Simulator(cut) as simulator:
            domain_id = simulator.dataset.domains[0].id
            key = f"{PAST_DAY}|{domain_id}"
            fragment = load(simulator, tmp_path / "first", instance, key)
            expected = past_day_ids(simulator, domain_id)
        with Simulator(config) as simulator:
            assert load(simulator, tmp_path / "whole", instance, key).success
        before = query(tmp_path / "whole", "SELECT * FROM gcore_requests ORDER BY ALL")
        with Simulator(cut) as simulator:
            refused = load(simulator, tmp_path / "whole", instance, key, run_config=RELOAD)

    assert len(stored_ids(tmp_path / "first", PAST_DAY, domain_id)) == 1000
    evaluation = row_count_check(fragment)
    assert not evaluation.passed
    (example,) = evaluation.metadata["examples"].value
    assert (example["api_reported_count"], example["rows_in_table"]) == (len(expected), 1000)

    assert not refused.success
    error = refused.get_step_failure_events()[0].event_specific_data.error.cause
    assert error.cls_name == "LoadRefusedError"
    assert f"1,000 rows read where Gcore reported {len(expected):,}" in error.message
    assert "\n" not in error.message.strip()
    assert query(tmp_path / "whole", "SELECT * FROM gcore_requests ORDER BY ALL") == before
