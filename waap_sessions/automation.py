"""What keeps the tables fresh: jobs, schedules, the domain sensor and declarative automation.

One rule decides who triggers what. Only schedules and the domain sensor call the APIs:
the raw tables load on a clock (a day's partition per domain, and snapshots), because the
APIs are rate-limited and their answers change with time. The summaries are SQL over the
warehouse, so they follow their inputs declaratively (`AutomationCondition.eager()`) and
recompute whenever an input changes, however it changed: a schedule, a backfill, a click.

Everything is built from `AutomationSettings`, so a deployment tunes the clocks (or stops
it all) through environment variables, without touching code:

    settings = AutomationSettings.from_env()
    defs = build_waap_sessions_definitions(automation=settings, ...)

Jobs, schedules and sensors exist only for the selected sources, and target the assets
by their translated keys.
"""

import functools
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from waap_sessions.errors import WarehouseError
from waap_sessions.maintenance import maintain
from waap_sessions.models import settings_from_env
from waap_sessions.partitions import days_up_to, domain_partitions, keys_of
from waap_sessions.resources import GcoreWaapResource, WarehouseResource
from waap_sessions.warehouse import (
    ACCESSWATCH_SESSIONS,
    ACTIVE_SESSIONS,
    APPGATE_ACTIVE_SESSIONS,
    GCORE_IP_TOP_SESSIONS,
    GCORE_REQUESTS,
    TOP_SESSIONS,
    domain_names,
    record_domains,
)

# Table name -> the key the translator gave its asset, for the selected tables only.
AssetKeys = Mapping[str, dg.AssetKey]

# The settings `from_env()` reads, by field.
ENVIRONMENT_VARIABLES = {
    "enabled": "WAAP_AUTOMATION_ENABLED",
    "backfill_days": "WAAP_BACKFILL_DAYS",
    "daily_cron": "WAAP_DAILY_CRON",
    "intraday_cron": "WAAP_INTRADAY_CRON",
    "snapshot_cron": "WAAP_SNAPSHOT_CRON",
    "maintenance_cron": "WAAP_MAINTENANCE_CRON",
    "snapshot_retention_hours": "WAAP_SNAPSHOT_RETENTION_HOURS",
    "file_grace_minutes": "WAAP_FILE_GRACE_MINUTES",
}
# Every clock runs in UTC, as the date partitions do.
TIMEZONE = "UTC"


class AutomationSettings(BaseModel, dg.Resolvable):
    """The clocks that keep the tables fresh, validated on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backfill_days: int = Field(
        default=3,
        ge=0,
        le=366,
        description="Complete UTC days a newly found domain loads by itself, besides today.",
    )
    daily_cron: str = Field(
        default="15 0 * * *",
        description="When to load yesterday (relative to the tick) for every domain, in UTC.",
    )
    intraday_cron: str = Field(
        default="5 * * * *", description="When to refresh today's partition of every domain."
    )
    snapshot_cron: str = Field(
        default="*/15 * * * *", description="When to take the Access Watch and Appgate snapshots."
    )
    domain_sensor_interval_s: int = Field(
        default=300, ge=30, description="Seconds between two looks at the account's domains."
    )
    maintenance_cron: str = Field(
        default="30 2 * * *", description="When the lake's housekeeping runs (UTC)."
    )
    snapshot_retention_hours: float = Field(
        default=24,
        ge=0,
        description="How far back readers may travel in time: older snapshots expire.",
    )
    file_grace_minutes: float = Field(
        default=60,
        ge=0,
        description=(
            "How long an unused file stays before it is deleted: longer than the longest "
            "reader query, which fails if its files go under it."
        ),
    )
    enabled: bool = Field(
        default=True, description="Schedules and sensors start RUNNING; False starts them STOPPED."
    )

    @field_validator("daily_cron", "intraday_cron", "snapshot_cron", "maintenance_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not is_valid_cron_string(value):
            raise ValueError("must be a cron string such as '15 0 * * *'")
        return value

    @field_validator("file_grace_minutes")
    @classmethod
    def _grace_within_retention(cls, value: float, info: ValidationInfo) -> float:
        retention_minutes = 60 * info.data.get("snapshot_retention_hours", 0)
        if value > retention_minutes:
            raise ValueError(
                f"must not exceed the snapshot retention ({retention_minutes:g} minutes)"
            )
        return value

    @classmethod
    def from_env(cls) -> "AutomationSettings":
        """The defaults, overridden by each variable of ENVIRONMENT_VARIABLES that is set."""
        return settings_from_env(cls, ENVIRONMENT_VARIABLES, "automation settings")

    @property
    def schedule_status(self) -> dg.DefaultScheduleStatus:
        return (
            dg.DefaultScheduleStatus.RUNNING if self.enabled else dg.DefaultScheduleStatus.STOPPED
        )

    @property
    def sensor_status(self) -> dg.DefaultSensorStatus:
        return dg.DefaultSensorStatus.RUNNING if self.enabled else dg.DefaultSensorStatus.STOPPED


@functools.cache
def longest_gap(cron: str) -> timedelta:
    """The longest wait between two ticks of `cron`, over its first 1000 ticks of 2026.

    That spans a year of a daily cron and ten days of a 15-minute one: enough to see
    weekends and month ends. Kept per cron: walking the ticks takes about 10 ms, and
    every asset's freshness policy asks.
    """
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    ticks = itertools.islice(cron_string_iterator(start, cron, TIMEZONE), 1000)
    return max(later - earlier for earlier, later in itertools.pairwise(ticks))


def freshness_policies(settings: AutomationSettings) -> dict[str, dg.FreshnessPolicy]:
    """How old each asset's latest materialization may get, derived from its clock.

    Snapshots (and active_sessions, which follows them within a minute) warn after one
    missed snapshot tick and fail after three (30 min and 1 h by default). The request
    tables refresh today's partitions on the intraday clock, so they warn after one
    missed intraday tick (2 h) and fail when a whole day passed without even the daily
    load, plus that slack (26 h). A policy sees the asset's latest materialization of
    any partition: one domain failing while the others load shows in the run history
    and the asset checks, not here.
    """
    snapshot_gap = longest_gap(settings.snapshot_cron)
    snapshots = dg.FreshnessPolicy.time_window(
        warn_window=2 * snapshot_gap, fail_window=4 * snapshot_gap
    )
    intraday_warning = 2 * longest_gap(settings.intraday_cron)
    requests = dg.FreshnessPolicy.time_window(
        warn_window=intraday_warning,
        fail_window=longest_gap(settings.daily_cron) + intraday_warning,
    )
    return {
        GCORE_REQUESTS.name: requests,
        GCORE_IP_TOP_SESSIONS.name: requests,
        TOP_SESSIONS.name: requests,
        ACCESSWATCH_SESSIONS.name: snapshots,
        APPGATE_ACTIVE_SESSIONS.name: snapshots,
        ACTIVE_SESSIONS.name: snapshots,
    }


# The summaries recompute when an input changes, however it changed.
# - top_sessions keeps `~any_deps_missing()` (its one input is the same partition, so it
#   waits for that partition to load) but drops `in_latest_time_window()`, so it follows a
#   reload of any day, not only today's. gcore_partition_job also runs it, right after its
#   input; eager ignores input updates from a run that also targeted top_sessions.
# - active_sessions drops `~any_deps_missing()`: it reads whichever snapshots exist and must
#   not wait forever for a source that never answered (say Appgate). For the same reason
#   it is not in snapshot_job: when one snapshot fails, a run that targeted active_sessions
#   would skip it, and eager ignores updates from such a run, so the other snapshot would
#   not reach the time series until both sources answered again.
# gcore_ip_top_sessions has no condition: it calls IP Spotlight, so it loads on the clock,
# in gcore_partition_job, right after its partition of gcore_requests.
AUTOMATION_CONDITIONS: dict[str, dg.AutomationCondition[dg.AssetKey]] = {
    TOP_SESSIONS.name: dg.AutomationCondition.eager().without(
        dg.AutomationCondition.in_latest_time_window()
    ),
    ACTIVE_SESSIONS.name: dg.AutomationCondition.eager().without(
        ~dg.AutomationCondition.any_deps_missing()
    ),
}


def automation_attributes(
    table: str, settings: AutomationSettings
) -> dict[str, dg.AutomationCondition[dg.AssetKey] | dg.FreshnessPolicy | None]:
    """The automation condition and freshness policy of one table's asset."""
    return {
        "automation_condition": AUTOMATION_CONDITIONS.get(table),
        "freshness_policy": freshness_policies(settings)[table],
    }


def partition_runs(
    days: Sequence[str], domains: Sequence[str], names: Mapping[int, str] | None = None
) -> list[dg.RunRequest]:
    """One run per day of each domain, keyed by its partition key `<date>|<domain id>`.

    Each run is tagged with its domain's id and, when `names` has it, its name, so the
    runs list says which domain a run loads. The sensor never asks twice for a run key;
    a schedule, never twice in one tick.
    """
    return [
        dg.RunRequest(partition_key=key, run_key=key, tags=domain_tags(domain, names or {}))
        for domain in domains
        for key in keys_of(days, [domain])
    ]


def domain_tags(domain: str, names: Mapping[int, str]) -> dict[str, str]:
    """`waap/domain_id` and, when known, `waap/domain_name` of one domain's runs."""
    name = names.get(int(domain))
    return {"waap/domain_id": domain, **({"waap/domain_name": name} if name else {})}


def recorded_domain_names(warehouse: WarehouseResource, log: logging.Logger) -> dict[int, str]:
    """The domain names the sensor recorded in the lake, for a schedule's run tags.

    A lake that cannot be read yet (say, domains were added by hand before any load)
    leaves the runs without names rather than stopping them: they create it.
    """
    try:
        with warehouse.read_only_connection() as connection:
            return domain_names(connection)
    except WarehouseError as error:
        log.warning(f"Runs are tagged without domain names: {error}")
        return {}


def runs_for_known_domains(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, days: Sequence[str]
) -> list[dg.RunRequest] | dg.SkipReason:
    """Runs of `days` for every domain the instance knows (schedules cannot add domains)."""
    domains = domain_partitions.get_partition_keys(dynamic_partitions_store=context.instance)
    if not domains:
        return dg.SkipReason("No Gcore domain is known yet: gcore_domain_sensor adds them.")
    return partition_runs(days, domains, recorded_domain_names(warehouse, context.log))


@dataclass(frozen=True)
class AutomationDefs:
    """The jobs, schedules and sensors `build_automation` made; None for an unselected source."""

    gcore_partition_job: UnresolvedAssetJobDefinition | None
    gcore_domain_sensor: dg.SensorDefinition | None
    gcore_daily_schedule: dg.ScheduleDefinition | None
    gcore_intraday_schedule: dg.ScheduleDefinition | None
    snapshot_job: UnresolvedAssetJobDefinition | None
    snapshot_schedule: dg.ScheduleDefinition | None
    summaries_automation_sensor: dg.AutomationConditionSensorDefinition | None
    lake_maintenance_job: dg.JobDefinition
    lake_maintenance_schedule: dg.ScheduleDefinition

    def definitions(self) -> dg.Definitions:
        """All of them, ready for `dg.Definitions.merge` with the assets and resources."""
        jobs = [self.gcore_partition_job, self.snapshot_job, self.lake_maintenance_job]
        schedules = [
            self.gcore_daily_schedule,
            self.gcore_intraday_schedule,
            self.snapshot_schedule,
            self.lake_maintenance_schedule,
        ]
        sensors = [self.gcore_domain_sensor, self.summaries_automation_sensor]
        return dg.Definitions(
            jobs=[job for job in jobs if job is not None],
            schedules=[schedule for schedule in schedules if schedule is not None],
            sensors=[sensor for sensor in sensors if sensor is not None],
        )


def build_automation(
    settings: AutomationSettings, asset_keys: AssetKeys, start_date: date
) -> AutomationDefs:
    """The jobs, schedules and sensors that keep the selected tables fresh.

    `asset_keys` maps each selected table to its asset's key: a source with no table in
    it gets no job, schedule or sensor, so it never runs and needs no credentials.
    """
    gcore = (
        build_gcore_automation(settings, asset_keys, start_date)
        if GCORE_REQUESTS.name in asset_keys
        else None
    )
    snapshots = [
        asset_keys[table.name]
        for table in (ACCESSWATCH_SESSIONS, APPGATE_ACTIVE_SESSIONS)
        if table.name in asset_keys
    ]
    snapshot_job = (
        dg.define_asset_job(
            "snapshot_job",
            selection=dg.AssetSelection.assets(*snapshots),
            description="A snapshot of each selected source: Access Watch sessions, Appgate "
            "active sessions (active_sessions follows).",
        )
        if snapshots
        else None
    )
    summaries = [asset_keys[table] for table in AUTOMATION_CONDITIONS if table in asset_keys]
    lake_maintenance_job = build_lake_maintenance_job(settings)
    return AutomationDefs(
        gcore_partition_job=gcore.job if gcore else None,
        gcore_domain_sensor=gcore.domain_sensor if gcore else None,
        gcore_daily_schedule=gcore.daily_schedule if gcore else None,
        gcore_intraday_schedule=gcore.intraday_schedule if gcore else None,
        snapshot_job=snapshot_job,
        snapshot_schedule=utc_schedule(
            "snapshot_schedule",
            snapshot_job,
            settings.snapshot_cron,
            settings,
            "Takes a snapshot of each selected source: Access Watch, Appgate.",
        )
        if snapshot_job
        else None,
        summaries_automation_sensor=dg.AutomationConditionSensorDefinition(
            "summaries_automation_sensor",
            target=dg.AssetSelection.assets(*summaries),
            default_status=settings.sensor_status,
            description="Recomputes the summaries when their inputs change.",
        )
        if summaries
        else None,
        lake_maintenance_job=lake_maintenance_job,
        lake_maintenance_schedule=utc_schedule(
            "lake_maintenance_schedule",
            lake_maintenance_job,
            settings.maintenance_cron,
            settings,
            "Merges small files, expires old snapshots, deletes unused files.",
        ),
    )


def utc_schedule(
    name: str,
    job: UnresolvedAssetJobDefinition | dg.JobDefinition,
    cron: str,
    settings: AutomationSettings,
    description: str,
) -> dg.ScheduleDefinition:
    """A schedule of a whole job on a UTC cron, running unless the settings stop it."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=TIMEZONE,
        default_status=settings.schedule_status,
        description=description,
    )


@dataclass(frozen=True)
class GcoreAutomation:
    """The partition job and what starts it: the domain sensor and two schedules."""

    job: UnresolvedAssetJobDefinition
    domain_sensor: dg.SensorDefinition
    daily_schedule: dg.ScheduleDefinition
    intraday_schedule: dg.ScheduleDefinition


def build_gcore_automation(
    settings: AutomationSettings, asset_keys: AssetKeys, start_date: date
) -> GcoreAutomation:
    """gcore_partition_job, the domain sensor and the daily and intraday schedules."""
    partition_tables = (GCORE_REQUESTS, GCORE_IP_TOP_SESSIONS, TOP_SESSIONS)
    gcore_partition_job = dg.define_asset_job(
        "gcore_partition_job",
        selection=dg.AssetSelection.assets(
            *(asset_keys[table.name] for table in partition_tables if table.name in asset_keys)
        ),
        description="One UTC day of one Gcore domain (or a range of them): requests, "
        "IP Spotlight, top sessions.",
    )

    @dg.sensor(
        job=gcore_partition_job,
        minimum_interval_seconds=settings.domain_sensor_interval_s,
        default_status=settings.sensor_status,
        description=(
            "Adds the account's new Gcore domains as partitions and loads their last "
            f"{settings.backfill_days} days and today."
        ),
    )
    def gcore_domain_sensor(
        context: dg.SensorEvaluationContext,
        gcore: GcoreWaapResource,
        warehouse: WarehouseResource,
    ) -> dg.SensorResult | dg.SkipReason:
        """Adds the account's new domains as partitions and loads their recent days.

        A new domain loads its last `backfill_days` complete UTC days and today (from the
        start date on); older days are a backfill away. The instance's partitions are the
        sensor's memory, so a known domain gets nothing. A domain removed from the account
        keeps its partition and its history: nothing here deletes one. Every domain's
        name goes to the lake when it is new or changed, for the schedules' run tags and
        the assets' metadata.
        """
        known = set(domain_partitions.get_partition_keys(dynamic_partitions_store=context.instance))
        with gcore.get_client() as client:
            names = {domain.id: domain.name for domain in client.iter_domains()}
        with warehouse.get_connection() as connection:
            record_domains(connection, names)
        account = [str(domain_id) for domain_id in names]
        new = [domain for domain in account if domain not in known]
        if not new:
            return dg.SkipReason(f"All {len(account)} domains of the account are known.")
        days = days_up_to(datetime.now(UTC), settings.backfill_days + 1, start_date)
        return dg.SensorResult(
            run_requests=partition_runs(days, new, names),
            dynamic_partitions_requests=[domain_partitions.build_add_request(new)],
        )

    @dg.schedule(
        job=gcore_partition_job,
        cron_schedule=settings.daily_cron,
        execution_timezone=TIMEZONE,
        default_status=settings.schedule_status,
        description="Loads yesterday, now complete, for every known domain.",
    )
    def gcore_daily_schedule(
        context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
    ) -> list[dg.RunRequest] | dg.SkipReason:
        """Loads yesterday, now complete, for every known domain."""
        yesterday = context.scheduled_execution_time - timedelta(days=1)
        return runs_for_known_domains(context, warehouse, days_up_to(yesterday, 1, start_date))

    @dg.schedule(
        job=gcore_partition_job,
        cron_schedule=settings.intraday_cron,
        execution_timezone=TIMEZONE,
        default_status=settings.schedule_status,
        description="Reloads today's partition, so far, for every known domain.",
    )
    def gcore_intraday_schedule(
        context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
    ) -> list[dg.RunRequest] | dg.SkipReason:
        """Reloads today's partition, so far, for every known domain."""
        today = context.scheduled_execution_time
        return runs_for_known_domains(context, warehouse, days_up_to(today, 1, start_date))

    return GcoreAutomation(
        gcore_partition_job, gcore_domain_sensor, gcore_daily_schedule, gcore_intraday_schedule
    )


def build_lake_maintenance_job(settings: AutomationSettings) -> dg.JobDefinition:
    """The lake's housekeeping as a job of one op, its effect in the op's output metadata."""
    retention = timedelta(hours=settings.snapshot_retention_hours)
    grace = timedelta(minutes=settings.file_grace_minutes)

    @dg.op(out=dg.Out(dg.Nothing))
    def lake_maintenance(
        context: dg.OpExecutionContext, warehouse: WarehouseResource
    ) -> dg.Output[None]:
        """Merges small files, expires snapshots past the retention, deletes unused files."""
        with warehouse.get_connection() as connection:
            report = maintain(
                connection, warehouse.lake_settings(), retention=retention, grace=grace
            )
        context.log.info(f"Lake housekeeping: before {report.before}, after {report.after}")
        return dg.Output(
            None,
            metadata={
                **{f"{name}_before": value for name, value in asdict(report.before).items()},
                **{f"{name}_after": value for name, value in asdict(report.after).items()},
                "snapshot_retention_hours": settings.snapshot_retention_hours,
                "file_grace_minutes": settings.file_grace_minutes,
            },
        )

    @dg.job(
        description=(
            "Lake housekeeping: merges small files, expires snapshots older than "
            f"{settings.snapshot_retention_hours:g} h, deletes files unused for "
            f"{settings.file_grace_minutes:g} min."
        )
    )
    def lake_maintenance_job() -> None:
        lake_maintenance()

    return lake_maintenance_job
