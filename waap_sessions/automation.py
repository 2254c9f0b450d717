"""What keeps the tables fresh: jobs, schedules, the domain sensor and declarative automation.

One rule decides who triggers what. Only schedules and the domain sensor call the APIs:
the raw tables load on a clock (a day's partition per domain, and snapshots), because the
APIs are rate-limited and their answers change with time. The summaries are SQL over the
warehouse, so they follow their inputs declaratively (`AutomationCondition.eager()`) and
recompute whenever an input changes, however it changed: a schedule, a backfill, a click.

Everything is built from `AutomationSettings`, so a deployment tunes the clocks (or stops
it all) through environment variables, without touching code:

    settings = AutomationSettings.from_env()
    automation = build_automation(settings)
    defs = dg.Definitions.merge(
        dg.Definitions(assets=with_automation(ASSETS, settings), resources=...),
        automation.definitions(),
    )
"""

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from waap_sessions.assets import (
    FIRST_DAY,
    accesswatch_sessions,
    active_sessions,
    appgate_active_sessions,
    domain_partitions,
    gcore_ip_top_sessions,
    gcore_requests,
    top_sessions,
)
from waap_sessions.maintenance import maintain
from waap_sessions.models import settings_from_env
from waap_sessions.resources import GcoreWaapResource, WarehouseResource

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


def longest_gap(cron: str) -> timedelta:
    """The longest wait between two ticks of `cron`, over its first 1000 ticks of 2026.

    That spans a year of a daily cron and ten days of a 15-minute one: enough to see
    weekends and month ends.
    """
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    ticks = itertools.islice(cron_string_iterator(start, cron, TIMEZONE), 1000)
    return max(later - earlier for earlier, later in itertools.pairwise(ticks))


def freshness_policies(settings: AutomationSettings) -> dict[dg.AssetKey, dg.FreshnessPolicy]:
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
        gcore_requests.key: requests,
        gcore_ip_top_sessions.key: requests,
        top_sessions.key: requests,
        accesswatch_sessions.key: snapshots,
        appgate_active_sessions.key: snapshots,
        active_sessions.key: snapshots,
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
AUTOMATION_CONDITIONS: dict[dg.AssetKey, dg.AutomationCondition[dg.AssetKey]] = {
    top_sessions.key: dg.AutomationCondition.eager().without(
        dg.AutomationCondition.in_latest_time_window()
    ),
    active_sessions.key: dg.AutomationCondition.eager().without(
        ~dg.AutomationCondition.any_deps_missing()
    ),
}


def with_automation(
    assets: Sequence[dg.AssetsDefinition], settings: AutomationSettings
) -> list[dg.AssetsDefinition]:
    """`assets` with their automation conditions and freshness policies attached.

    Only the specs change: partitions, deps, pools, metadata and code stay as assets.py
    defines them.
    """
    policies = freshness_policies(settings)

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(
            automation_condition=AUTOMATION_CONDITIONS.get(spec.key, spec.automation_condition),
            freshness_policy=policies.get(spec.key, spec.freshness_policy),
        )

    return [asset.map_asset_specs(attach) for asset in assets]


def days_up_to(moment: datetime, count: int) -> list[str]:
    """The date keys of the last `count` UTC days up to `moment`'s, oldest first.

    Days before the first date partition are left out.
    """
    last = moment.astimezone(UTC).date()
    days = (last - timedelta(days=back) for back in reversed(range(count)))
    return [day.isoformat() for day in days if day >= date.fromisoformat(FIRST_DAY)]


def partition_runs(days: Sequence[str], domains: Sequence[str]) -> list[dg.RunRequest]:
    """One run per day of each domain, keyed by its partition key `<date>|<domain id>`.

    The sensor never asks twice for a run key; a schedule, never twice in one tick.
    """
    keys = [
        dg.MultiPartitionKey({"date": day, "domain": domain}) for domain in domains for day in days
    ]
    return [dg.RunRequest(partition_key=key, run_key=key) for key in keys]


def runs_for_known_domains(
    instance: dg.DagsterInstance, days: Sequence[str]
) -> list[dg.RunRequest] | dg.SkipReason:
    """Runs of `days` for every domain the instance knows (schedules cannot add domains)."""
    domains = domain_partitions.get_partition_keys(dynamic_partitions_store=instance)
    if not domains:
        return dg.SkipReason("No Gcore domain is known yet: gcore_domain_sensor adds them.")
    return partition_runs(days, domains)


@dataclass(frozen=True)
class AutomationDefs:
    """The jobs, schedules and sensors `build_automation` made, by name."""

    gcore_partition_job: UnresolvedAssetJobDefinition
    snapshot_job: UnresolvedAssetJobDefinition
    gcore_domain_sensor: dg.SensorDefinition
    gcore_daily_schedule: dg.ScheduleDefinition
    gcore_intraday_schedule: dg.ScheduleDefinition
    snapshot_schedule: dg.ScheduleDefinition
    summaries_automation_sensor: dg.AutomationConditionSensorDefinition
    lake_maintenance_job: dg.JobDefinition
    lake_maintenance_schedule: dg.ScheduleDefinition

    def definitions(self) -> dg.Definitions:
        """All of them, ready for `dg.Definitions.merge` with the assets and resources."""
        return dg.Definitions(
            jobs=[self.gcore_partition_job, self.snapshot_job, self.lake_maintenance_job],
            schedules=[
                self.gcore_daily_schedule,
                self.gcore_intraday_schedule,
                self.snapshot_schedule,
                self.lake_maintenance_schedule,
            ],
            sensors=[self.gcore_domain_sensor, self.summaries_automation_sensor],
        )


def build_automation(settings: AutomationSettings) -> AutomationDefs:
    """The jobs, schedules and sensors that keep the tables fresh, on `settings`' clocks."""
    gcore_partition_job = dg.define_asset_job(
        "gcore_partition_job",
        selection=dg.AssetSelection.assets(gcore_requests, gcore_ip_top_sessions, top_sessions),
        description="One UTC day of one Gcore domain: requests, IP Spotlight, top sessions.",
    )
    snapshot_job = dg.define_asset_job(
        "snapshot_job",
        selection=dg.AssetSelection.assets(accesswatch_sessions, appgate_active_sessions),
        description="One Access Watch and one Appgate snapshot (active_sessions follows).",
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
        context: dg.SensorEvaluationContext, gcore: GcoreWaapResource
    ) -> dg.SensorResult | dg.SkipReason:
        """Adds the account's new domains as partitions and loads their recent days.

        A new domain loads its last `backfill_days` complete UTC days and today; older
        days are a backfill away. The instance's partitions are the sensor's memory, so a
        known domain gets nothing. A domain removed from the account keeps its partition
        and its history: nothing here deletes one.
        """
        known = set(domain_partitions.get_partition_keys(dynamic_partitions_store=context.instance))
        with gcore.get_client() as client:
            account = [str(domain.id) for domain in client.iter_domains()]
        new = [domain for domain in account if domain not in known]
        if not new:
            return dg.SkipReason(f"All {len(account)} domains of the account are known.")
        days = days_up_to(datetime.now(UTC), settings.backfill_days + 1)
        return dg.SensorResult(
            run_requests=partition_runs(days, new),
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
        context: dg.ScheduleEvaluationContext,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        """Loads yesterday, now complete, for every known domain."""
        yesterday = context.scheduled_execution_time - timedelta(days=1)
        return runs_for_known_domains(context.instance, days_up_to(yesterday, 1))

    @dg.schedule(
        job=gcore_partition_job,
        cron_schedule=settings.intraday_cron,
        execution_timezone=TIMEZONE,
        default_status=settings.schedule_status,
        description="Reloads today's partition, so far, for every known domain.",
    )
    def gcore_intraday_schedule(
        context: dg.ScheduleEvaluationContext,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        """Reloads today's partition, so far, for every known domain."""
        today = context.scheduled_execution_time
        return runs_for_known_domains(context.instance, days_up_to(today, 1))

    snapshot_schedule = dg.ScheduleDefinition(
        name="snapshot_schedule",
        job=snapshot_job,
        cron_schedule=settings.snapshot_cron,
        execution_timezone=TIMEZONE,
        default_status=settings.schedule_status,
        description="Takes one Access Watch and one Appgate snapshot.",
    )
    summaries_automation_sensor = dg.AutomationConditionSensorDefinition(
        "summaries_automation_sensor",
        target=dg.AssetSelection.assets(*AUTOMATION_CONDITIONS),
        default_status=settings.sensor_status,
        description="Recomputes the summaries when their inputs change.",
    )
    lake_maintenance_job = build_lake_maintenance_job(settings)
    lake_maintenance_schedule = dg.ScheduleDefinition(
        name="lake_maintenance_schedule",
        job=lake_maintenance_job,
        cron_schedule=settings.maintenance_cron,
        execution_timezone=TIMEZONE,
        default_status=settings.schedule_status,
        description="Merges small files, expires old snapshots, deletes unused files.",
    )
    return AutomationDefs(
        gcore_partition_job=gcore_partition_job,
        snapshot_job=snapshot_job,
        gcore_domain_sensor=gcore_domain_sensor,
        gcore_daily_schedule=gcore_daily_schedule,
        gcore_intraday_schedule=gcore_intraday_schedule,
        snapshot_schedule=snapshot_schedule,
        summaries_automation_sensor=summaries_automation_sensor,
        lake_maintenance_job=lake_maintenance_job,
        lake_maintenance_schedule=lake_maintenance_schedule,
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
