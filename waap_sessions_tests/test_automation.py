"""The automation, end to end: the sensor over real HTTP, schedules at given times, the
summaries' conditions over a real lake, and the settings from the environment."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from waap_sessions.automation import (
    ENVIRONMENT_VARIABLES,
    AutomationDefs,
    AutomationSettings,
    build_automation,
)
from waap_sessions.errors import InvalidParameterError
from waap_sessions.partitions import days_up_to, domain_partitions
from waap_sessions.simulator import Simulator
from waap_sessions_tests.conftest import (
    ASSETS,
    CHECKS,
    CONFIG,
    START_DATE,
    accesswatch_sessions,
    active_sessions,
    assets_by_name,
    built_definitions,
    gcore_ip_top_sessions,
    gcore_requests,
    pipeline_resources,
    top_sessions,
)

SETTINGS = AutomationSettings()
KEYS = {name: asset.key for name, asset in ASSETS.items()}
AUTOMATION = build_automation(SETTINGS, KEYS, START_DATE)
# A complete day of the shared simulator's data: the day before its clock's.
SIMULATED_DAY = (CONFIG.now - timedelta(days=1)).date().isoformat()


def definitions(simulator: Simulator, lake: Path) -> dg.Definitions:
    """What the code location serves, its resources pointed at the simulator and `lake`."""
    return built_definitions(**pipeline_resources(simulator, lake))


def checks_of(asset: dg.AssetsDefinition) -> list[dg.AssetCheckKey]:
    return [key for check in CHECKS for key in check.check_keys if key.asset_key == asset.key]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def domains(simulator: Simulator) -> list[str]:
    return [str(domain.id) for domain in simulator.dataset.domains]


def sensor_tick(simulator: Simulator, instance: dg.DagsterInstance, lake: Path):
    """One tick of gcore_domain_sensor, as the daemon runs it, against the simulator."""
    assert AUTOMATION.gcore_domain_sensor is not None
    # Closed after the tick, as the daemon does: the instance made from the ref goes too.
    with dg.build_sensor_context(
        instance=instance,
        # The ref lets the sensor check its partition keys against the instance.
        instance_ref=instance.get_ref(),
        resources=pipeline_resources(simulator, lake),
        definitions=definitions(simulator, lake),
    ) as context:
        return AUTOMATION.gcore_domain_sensor.evaluate_tick(context)


def requested_keys(run_requests: list[dg.RunRequest]) -> list[str]:
    return [str(request.partition_key) for request in run_requests]


# The domain sensor, over real HTTP


def test_the_first_tick_adds_every_domain_and_backfills_it(simulator, instance, domains, tmp_path):
    today = datetime.now(UTC)
    tick = sensor_tick(simulator, instance, tmp_path / "lake")

    assert [request.partition_keys for request in tick.dynamic_partitions_requests] == [domains]
    # 3 complete days (backfill_days) and today; the tick may straddle midnight.
    expected = [
        [f"{day}|{domain}" for domain in domains for day in days_up_to(moment, 3 + 1, START_DATE)]
        for moment in (today, datetime.now(UTC))
    ]
    assert requested_keys(tick.run_requests) in expected
    assert [request.run_key for request in tick.run_requests] == requested_keys(tick.run_requests)
    assert AUTOMATION.gcore_domain_sensor.job_name == "gcore_partition_job"


def test_a_second_tick_adds_and_requests_nothing(simulator, instance, tmp_path):
    first = sensor_tick(simulator, instance, tmp_path / "lake")
    for request in first.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)

    second = sensor_tick(simulator, instance, tmp_path / "lake")

    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []
    assert second.skip_message == "All 3 domains of the account are known."


def test_only_a_new_domain_is_added_and_backfilled(simulator, instance, domains, tmp_path):
    *known, new = domains
    instance.add_dynamic_partitions(domain_partitions.name, known)

    tick = sensor_tick(simulator, instance, tmp_path / "lake")

    assert [request.partition_keys for request in tick.dynamic_partitions_requests] == [[new]]
    assert {key.split("|")[1] for key in requested_keys(tick.run_requests)} == {new}
    assert len(tick.run_requests) == SETTINGS.backfill_days + 1


# The schedules at given times


@pytest.fixture
def repository(simulator, tmp_path) -> dg.RepositoryDefinition:
    """The code location, which a schedule needs to check its partition keys."""
    return definitions(simulator, tmp_path / "lake").get_repository_def()


def schedule_tick(
    schedule: dg.ScheduleDefinition,
    instance: dg.DagsterInstance,
    repository: dg.RepositoryDefinition,
    at: datetime,
):
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=at,
        repository_def=repository,
        resources=repository.get_top_level_resources(),
    ) as context:
        return schedule.evaluate_tick(context)


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (datetime(2026, 3, 1, 0, 15, tzinfo=UTC), "2026-02-28"),
        (datetime(2027, 1, 1, 0, 15, tzinfo=UTC), "2026-12-31"),
        (datetime(2026, 11, 23, 0, 15, tzinfo=UTC), "2026-11-22"),
    ],
)
def test_the_daily_schedule_loads_yesterday_for_every_domain(instance, repository, at, day):
    instance.add_dynamic_partitions(domain_partitions.name, ["101", "202"])

    tick = schedule_tick(AUTOMATION.gcore_daily_schedule, instance, repository, at)

    assert requested_keys(tick.run_requests) == [f"{day}|101", f"{day}|202"]
    assert [request.run_key for request in tick.run_requests] == [f"{day}|101", f"{day}|202"]


def test_the_intraday_schedule_refreshes_today_for_every_domain(instance, repository):
    instance.add_dynamic_partitions(domain_partitions.name, ["101", "202"])
    at = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)

    tick = schedule_tick(AUTOMATION.gcore_intraday_schedule, instance, repository, at)

    assert requested_keys(tick.run_requests) == ["2026-03-01|101", "2026-03-01|202"]
    # Deterministic: the same tick asks for the same run keys.
    again = schedule_tick(AUTOMATION.gcore_intraday_schedule, instance, repository, at)
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in tick.run_requests]


@pytest.mark.parametrize("schedule_name", ["gcore_daily_schedule", "gcore_intraday_schedule"])
def test_the_partition_schedules_skip_until_a_domain_is_known(instance, repository, schedule_name):
    schedule = getattr(AUTOMATION, schedule_name)

    tick = schedule_tick(schedule, instance, repository, datetime(2026, 3, 1, 10, 5, tzinfo=UTC))

    assert tick.run_requests == []
    assert tick.skip_message == "No Gcore domain is known yet: gcore_domain_sensor adds them."


def test_the_snapshot_schedule_runs_the_snapshot_job(instance, repository):
    tick = schedule_tick(
        AUTOMATION.snapshot_schedule, instance, repository, datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    )

    assert len(tick.run_requests) == 1
    assert AUTOMATION.snapshot_schedule.job_name == "snapshot_job"
    assert AUTOMATION.snapshot_schedule.cron_schedule == "*/15 * * * *"


def test_days_never_start_before_the_first_date_partition():
    start = START_DATE
    assert days_up_to(datetime(2026, 1, 2, 5, tzinfo=UTC), 4, start) == ["2026-01-01", "2026-01-02"]
    assert days_up_to(datetime(2026, 3, 1, 23, 59, tzinfo=UTC), 2, start) == [
        "2026-02-28",
        "2026-03-01",
    ]


# The summaries follow their inputs, over a real lake


def test_the_summaries_follow_their_inputs_and_only_then(simulator, instance, domains, tmp_path):
    defs = definitions(simulator, tmp_path / "lake")
    instance.add_dynamic_partitions(domain_partitions.name, domains)
    partition = f"{SIMULATED_DAY}|{domains[0]}"
    idle = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert idle.total_requested == 0

    # One raw partition loaded, and one snapshot source (Appgate never answered).
    for asset, partition_key in ((gcore_requests, partition), (accesswatch_sessions, None)):
        dg.materialize(
            [asset],
            instance=instance,
            resources=pipeline_resources(simulator, tmp_path / "lake"),
            partition_key=partition_key,
        )
    followed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)

    assert followed.get_requested_partitions(top_sessions.key) == {partition}
    assert followed.get_num_requested(active_sessions.key) == 1
    assert followed.get_num_requested(gcore_ip_top_sessions.key) == 0
    # active_sessions' checks come along: no job runs them, only the automation sensor.
    requested_checks = {
        result.key
        for result in followed.results
        if isinstance(result.key, dg.AssetCheckKey) and result.true_subset.size
    }
    assert requested_checks == set(checks_of(active_sessions))
    assert followed.total_requested == 2 + len(requested_checks)
    unchanged = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=followed.cursor
    )
    assert unchanged.total_requested == 0


def test_a_partition_job_run_does_not_trigger_its_summary_again(
    simulator, instance, domains, tmp_path
):
    defs = definitions(simulator, tmp_path / "lake")
    instance.add_dynamic_partitions(domain_partitions.name, domains)
    idle = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    run = defs.resolve_job_def("gcore_partition_job").execute_in_process(
        instance=instance, partition_key=f"{SIMULATED_DAY}|{domains[0]}"
    )
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)

    assert run.success
    assert {event.asset_key for event in run.get_asset_materialization_events()} == {
        gcore_requests.key,
        gcore_ip_top_sessions.key,
        top_sessions.key,
    }
    assert after.total_requested == 0


# Conditions and policies attached without changing anything else


def test_only_the_summaries_follow_their_inputs_and_every_asset_has_a_freshness_policy():
    specs = {name: asset.specs_by_key[asset.key] for name, asset in ASSETS.items()}
    assert {name for name, spec in specs.items() if spec.automation_condition} == {
        "top_sessions",
        "active_sessions",
    }
    assert all(spec.freshness_policy for spec in specs.values())


def policies(settings: AutomationSettings) -> dict[str, dg.FreshnessPolicy | None]:
    return {
        name: asset.specs_by_key[asset.key].freshness_policy
        for name, asset in assets_by_name(built_definitions(automation=settings)).items()
    }


def window(warn: timedelta, fail: timedelta) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(warn_window=warn, fail_window=fail)


def test_freshness_follows_each_clock():
    hour = timedelta(hours=1)
    requests, snapshots = window(2 * hour, 26 * hour), window(timedelta(minutes=30), hour)
    assert policies(SETTINGS) == {
        "gcore_requests": requests,
        "gcore_ip_top_sessions": requests,
        "top_sessions": requests,
        "accesswatch_sessions": snapshots,
        "appgate_active_sessions": snapshots,
        "active_sessions": snapshots,
    }
    slower = policies(AutomationSettings(intraday_cron="0 */6 * * *", snapshot_cron="0 * * * *"))
    assert slower["top_sessions"] == window(12 * hour, 36 * hour)
    assert slower["active_sessions"] == window(2 * hour, 4 * hour)


# Settings


def all_statuses(automation: AutomationDefs) -> set[str]:
    defs = automation.definitions()
    return {
        str(definition.default_status.value)
        for definition in [*(defs.schedules or ()), *(defs.sensors or ())]
        if isinstance(definition, dg.ScheduleDefinition | dg.SensorDefinition)
    }


def test_everything_runs_by_default():
    assert all_statuses(AUTOMATION) == {"RUNNING"}


def test_disabled_automation_starts_stopped(monkeypatch):
    monkeypatch.setenv("WAAP_AUTOMATION_ENABLED", "false")

    assert all_statuses(build_automation(AutomationSettings.from_env(), KEYS, START_DATE)) == {
        "STOPPED"
    }


def test_from_env_reads_every_variable(monkeypatch):
    values = {
        "WAAP_AUTOMATION_ENABLED": "true",
        "WAAP_BACKFILL_DAYS": "7",
        "WAAP_DAILY_CRON": "30 1 * * *",
        "WAAP_INTRADAY_CRON": "*/30 * * * *",
        "WAAP_SNAPSHOT_CRON": "*/5 * * * *",
        "WAAP_MAINTENANCE_CRON": "0 4 * * 0",
        "WAAP_SNAPSHOT_RETENTION_HOURS": "168",
        "WAAP_FILE_GRACE_MINUTES": "120",
    }
    assert set(values) == set(ENVIRONMENT_VARIABLES.values())
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    settings = AutomationSettings.from_env()

    assert settings == AutomationSettings(
        enabled=True,
        backfill_days=7,
        daily_cron="30 1 * * *",
        intraday_cron="*/30 * * * *",
        snapshot_cron="*/5 * * * *",
        maintenance_cron="0 4 * * 0",
        snapshot_retention_hours=168,
        file_grace_minutes=120,
    )
    automation = build_automation(settings, KEYS, START_DATE)
    assert automation.gcore_daily_schedule is not None
    assert automation.gcore_intraday_schedule is not None
    assert automation.gcore_daily_schedule.cron_schedule == "30 1 * * *"
    assert automation.gcore_intraday_schedule.cron_schedule == "*/30 * * * *"
    assert automation.lake_maintenance_schedule.cron_schedule == "0 4 * * 0"
    assert "168 h" in (automation.lake_maintenance_job.description or "")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WAAP_DAILY_CRON", "daily"),
        ("WAAP_INTRADAY_CRON", "61 * * * *"),
        ("WAAP_SNAPSHOT_CRON", "*/15 * * *"),
        ("WAAP_BACKFILL_DAYS", "three"),
        ("WAAP_BACKFILL_DAYS", "-1"),
        ("WAAP_AUTOMATION_ENABLED", "perhaps"),
        ("WAAP_MAINTENANCE_CRON", "nightly"),
        ("WAAP_SNAPSHOT_RETENTION_HOURS", "-1"),
        ("WAAP_FILE_GRACE_MINUTES", "2000"),  # longer than the default 24 h retention
    ],
)
def test_a_bad_variable_fails_naming_it(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(InvalidParameterError, match=variable) as raised:
        AutomationSettings.from_env()

    assert raised.value.fields == (variable,)


# Loading


def test_the_definitions_with_automation_are_loadable(simulator, tmp_path):
    defs = definitions(simulator, tmp_path / "lake")

    dg.Definitions.validate_loadable(defs)

    repository = defs.get_repository_def()
    assert {job.name for job in repository.get_all_jobs()} >= {
        "gcore_partition_job",
        "snapshot_job",
        "lake_maintenance_job",
    }
    assert {schedule.name for schedule in repository.schedule_defs} == {
        "gcore_daily_schedule",
        "gcore_intraday_schedule",
        "snapshot_schedule",
        "lake_maintenance_schedule",
    }
    assert {sensor.name for sensor in repository.sensor_defs} == {
        "gcore_domain_sensor",
        "summaries_automation_sensor",
    }
    # The UI shows a description beside each.
    described = [*repository.schedule_defs, *repository.sensor_defs, *repository.get_all_jobs()]
    assert all(d.description for d in described if not d.name.startswith("__")), [
        d.name for d in described if not d.description
    ]
