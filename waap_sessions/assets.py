"""The software-defined assets: four raw tables loaded from the APIs, two summaries in SQL.

Every asset reads all it needs from its API before it opens the warehouse, then writes
in one short transaction: a failed read leaves the table as it was, and a run that loses
a commit conflict to another run writing the same table redoes only that transaction.
Runs of different partitions load in parallel.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from pydantic import Field

from waap_sessions.accesswatch import Session
from waap_sessions.appgate import ActiveSessionsDashboard
from waap_sessions.gcore import RequestSummary, TopSession
from waap_sessions.http_core import map_in_order
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    WarehouseResource,
)
from waap_sessions.summaries import refresh_active_sessions, refresh_top_sessions
from waap_sessions.warehouse import (
    ACCESSWATCH_SESSIONS,
    ACTIVE_SESSIONS,
    APPGATE_ACTIVE_SESSIONS,
    GCORE_IP_TOP_SESSIONS,
    GCORE_REQUESTS,
    TOP_SESSIONS,
    Table,
    append,
    arrow_rows,
    replace_partition,
)

GROUP = "waap_sessions"
OWNERS = ["team:data-platform"]
FIRST_DAY = "2026-01-01"
# The metadata key under which gcore_requests records the API's count (its check reads it).
API_REPORTED_COUNT = "api_reported_count"

domain_partitions = dg.DynamicPartitionsDefinition(name="gcore_domains")
# UTC days up to and including today (end_offset=1), times the account's domains.
request_partitions = dg.MultiPartitionsDefinition(
    {
        "date": dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1),
        "domain": domain_partitions,
    }
)


def table_metadata(table: Table, row_count: int | None = None) -> dict[str, Any]:
    """Dagster's standard table metadata: column schema, table name and, after a run, rows."""
    return dict(
        TableMetadataSet(
            column_schema=table.column_schema(), table_name=table.name, row_count=row_count
        )
    )


def table_asset(
    table: Table, *, kinds: set[str], **asset_arguments: Any
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`@dg.asset` for one table of the contract, named, described and typed after it.

    Its column schema is definition metadata, shown in the UI before any run.
    """
    decorator: Callable[[Callable[..., Any]], dg.AssetsDefinition] = dg.asset(
        name=table.name,
        description=table.description,
        group_name=GROUP,
        owners=OWNERS,
        kinds=kinds,
        metadata=table_metadata(table),
        **asset_arguments,
    )
    return decorator


def partition_of(context: dg.AssetExecutionContext) -> tuple[date, int]:
    """The UTC day and Gcore domain id of the run's partition."""
    keys = context.partition_key.keys_by_dimension
    return date.fromisoformat(keys["date"]), int(keys["domain"])


def day_window(day: date, now: datetime) -> tuple[datetime, datetime | None]:
    """[midnight, next midnight) in UTC; today's window stays open (pinned when read)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    if start > now:
        raise ValueError(f"{day} has not started yet (UTC now is {now:%Y-%m-%d %H:%M})")
    return start, (None if end > now else end)


@table_asset(
    GCORE_REQUESTS,
    kinds={"gcore", "duckdb"},
    partitions_def=request_partitions,
)
def gcore_requests(
    context: dg.AssetExecutionContext, gcore: GcoreWaapResource, warehouse: WarehouseResource
) -> dg.MaterializeResult[Any]:
    """Every request of one domain on one UTC day, replacing that partition."""
    day, domain_id = partition_of(context)
    loaded_at = datetime.now(UTC)
    start, end = day_window(day, loaded_at)
    with gcore.get_client() as client:
        stream = client.iter_requests(start, end, domains=[domain_id])
        rows = list(stream)
        traffic = client.http.stats.snapshot()
        drift = dict(client.schema_drift)
    columns = request_columns(rows, day, loaded_at)
    with warehouse.get_connection() as connection:
        replace_partition(
            connection,
            GCORE_REQUESTS,
            {"day": day, "domain_id": domain_id},
            arrow_rows(GCORE_REQUESTS, columns),
        )
    blocked = sum(row.decision == "blocked" for row in rows)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(GCORE_REQUESTS, len(rows)),
            "requests": len(rows),
            "blocked_share": round(blocked / len(rows), 4) if rows else 0.0,
            API_REPORTED_COUNT: stream.reported_count,
            "pages": stream.pages,
            "query_windows": stream.windows,
            "duplicates_skipped": stream.duplicates,
            "window": f"[{start.isoformat()}, {(end or loaded_at).isoformat()})",
            **{f"http_{name}": value for name, value in traffic.items()},
            "schema_drift": dg.MetadataValue.json(drift),
        }
    )


def request_columns(
    rows: list[RequestSummary], day: date, loaded_at: datetime
) -> dict[str, list[Any]]:
    """gcore_requests' columns from the API's rows."""
    plain = [name for name in GCORE_REQUESTS.column_names if name in RequestSummary.model_fields]
    columns: dict[str, list[Any]] = {name: [getattr(row, name) for row in rows] for name in plain}
    columns["request_time"] = [datetime.fromtimestamp(row.request_time / 1000, UTC) for row in rows]
    columns["policy_override"] = [
        None
        if row.policy_override is None
        else json.dumps([item.model_dump(mode="json") for item in row.policy_override])
        for row in rows
    ]
    columns["day"] = [day] * len(rows)
    columns["loaded_at"] = [loaded_at] * len(rows)
    return columns


class TopSessionsConfig(dg.Config):
    """How many of a partition's busiest IPs to look up in IP Spotlight."""

    top_ips: int = Field(default=10, ge=1, le=1000)


@table_asset(
    GCORE_IP_TOP_SESSIONS,
    kinds={"gcore", "duckdb"},
    partitions_def=request_partitions,
    deps=[gcore_requests],
)
def gcore_ip_top_sessions(
    context: dg.AssetExecutionContext,
    config: TopSessionsConfig,
    gcore: GcoreWaapResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult[Any]:
    """IP Spotlight for the partition's busiest IPs, replacing that partition."""
    day, domain_id = partition_of(context)
    with warehouse.read_only_connection() as connection:
        busiest = [
            ip
            for (ip,) in connection.execute(
                "SELECT client_ip FROM gcore_requests WHERE day = ? AND domain_id = ? "
                "GROUP BY client_ip ORDER BY count(*) DESC, client_ip LIMIT ?",
                [day, domain_id, config.top_ips],
            ).fetchall()
        ]
    fetched_at = datetime.now(UTC)
    with gcore.get_client() as client:
        answers = list(
            map_in_order(
                lambda ip: client.get_top_sessions(ip, domain_id),
                busiest,
                workers=client.http.settings.max_in_flight,
            )
        )
        traffic = client.http.stats.snapshot()
    columns = top_session_columns(domain_id, day, busiest, answers, fetched_at)
    with warehouse.get_connection() as connection:
        replace_partition(
            connection,
            GCORE_IP_TOP_SESSIONS,
            {"day": day, "domain_id": domain_id},
            arrow_rows(GCORE_IP_TOP_SESSIONS, columns),
        )
    row_count = len(columns["session_id"])
    return dg.MaterializeResult(
        metadata={
            **table_metadata(GCORE_IP_TOP_SESSIONS, row_count),
            "ips_looked_up": len(busiest),
            **{f"http_{name}": value for name, value in traffic.items()},
        }
    )


def top_session_columns(
    domain_id: int,
    day: date,
    ips: list[str],
    answers: list[list[TopSession]],
    fetched_at: datetime,
) -> dict[str, list[Any]]:
    """gcore_ip_top_sessions' columns: one row per (IP, session) answered."""
    pairs = [
        (rank, ip, session)
        for rank, (ip, sessions) in enumerate(zip(ips, answers, strict=True), start=1)
        for session in sessions
    ]
    return {
        "domain_id": [domain_id] * len(pairs),
        "day": [day] * len(pairs),
        "ip": [ip for _, ip, _ in pairs],
        "ip_rank": [rank for rank, _, _ in pairs],
        "session_id": [session.session_key for _, _, session in pairs],
        "requests": [session.requests for _, _, session in pairs],
        "blocked": [session.blocked for _, _, session in pairs],
        "duration_s": [session.duration for _, _, session in pairs],
        "start_time": [session.start_time for _, _, session in pairs],
        "fetched_at": [fetched_at] * len(pairs),
    }


class SnapshotConfig(dg.Config):
    """How many Access Watch sessions one snapshot asks for."""

    limit: int = Field(default=1000, ge=1)


@table_asset(ACCESSWATCH_SESSIONS, kinds={"accesswatch", "duckdb"})
def accesswatch_sessions(
    config: SnapshotConfig, accesswatch: AccessWatchResource, warehouse: WarehouseResource
) -> dg.MaterializeResult[Any]:
    """Appends one snapshot of the current Access Watch sessions."""
    snapshot_at = datetime.now(UTC)
    with accesswatch.get_client() as client:
        sessions = client.get_sessions(limit=config.limit)
    with warehouse.get_connection() as connection:
        append(
            connection,
            ACCESSWATCH_SESSIONS,
            arrow_rows(ACCESSWATCH_SESSIONS, session_columns(sessions, snapshot_at)),
        )
    statuses = Counter(session.reputation.status for session in sessions)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(ACCESSWATCH_SESSIONS, len(sessions)),
            "active_sessions": len(sessions),
            "snapshot_at": snapshot_at.isoformat(),
            **{f"reputation_{status}": count for status, count in sorted(statuses.items())},
        }
    )


def session_columns(sessions: Iterable[Session], snapshot_at: datetime) -> dict[str, list[Any]]:
    """accesswatch_sessions' columns: each session's nested objects flattened."""
    flat = []
    for s in sessions:
        agent = s.user_agent.agent if s.user_agent else None
        system = s.user_agent.system if s.user_agent else None
        flat.append(
            {
                "snapshot_at": snapshot_at,
                "session_id": s.id,
                "requests": s.count,
                "updated_at": s.updated,
                "identity_id": s.identity.id,
                "identity_type": s.identity.type,
                "identity_name": s.identity.name,
                "ip": s.address.value,
                "hostname": s.address.hostname,
                "as_number": s.address.as_number,
                "network_name": s.address.network_name,
                "country_code": s.address.country_code,
                "address_flags": s.address.flags,
                "language_code": s.signature.language_code if s.signature else None,
                "signature_country_code": s.signature.country_code if s.signature else None,
                "user_agent": s.user_agent.value if s.user_agent else None,
                "user_agent_type": s.user_agent.type if s.user_agent else None,
                "agent_name": agent.name if agent else None,
                "agent_version": agent.version if agent else None,
                "system_name": system.name if system else None,
                "speed_per_minute": s.speed.per_minute if s.speed else None,
                "reputation_status": s.reputation.status,
                "reputation_threats": s.reputation.threats,
                "robot_name": s.robot.name if s.robot else None,
            }
        )
    return {name: [row[name] for row in flat] for name in ACCESSWATCH_SESSIONS.column_names}


@table_asset(APPGATE_ACTIVE_SESSIONS, kinds={"appgate", "duckdb"})
def appgate_active_sessions(
    appgate: AppgateSdpResource, warehouse: WarehouseResource
) -> dg.MaterializeResult[Any]:
    """Appends one snapshot of the Appgate SDP active-sessions dashboard."""
    snapshot_at = datetime.now(UTC)
    with appgate.get_client() as client:
        dashboard = client.get_active_sessions_dashboard()
    with warehouse.get_connection() as connection:
        append(
            connection,
            APPGATE_ACTIVE_SESSIONS,
            arrow_rows(APPGATE_ACTIVE_SESSIONS, dashboard_columns(dashboard, snapshot_at)),
        )
    return dg.MaterializeResult(
        metadata={
            **table_metadata(APPGATE_ACTIVE_SESSIONS, 1),
            "active_sessions": dashboard.total_count,
            "locations": len(dashboard.geo_ip_data),
            "client_versions": len(dashboard.versions),
            "snapshot_at": snapshot_at.isoformat(),
        }
    )


def dashboard_columns(
    dashboard: ActiveSessionsDashboard, snapshot_at: datetime
) -> dict[str, list[Any]]:
    """appgate_active_sessions' one row: the totals and both breakdowns as lists of structs."""
    locations = [
        location.model_dump(
            include={
                "country_code",
                "continent_code",
                "latitude",
                "longitude",
                "session_count",
                "ips",
            }
        )
        for location in dashboard.geo_ip_data
    ]
    versions = [
        {
            "client_version": version,
            "support_status": sessions.support_status,
            "session_count": sessions.session_count,
        }
        for version, sessions in sorted(dashboard.versions.items())
    ]
    return {
        "snapshot_at": [snapshot_at],
        "total_count": [dashboard.total_count],
        "by_location": [locations],
        "by_version": [versions],
    }


@table_asset(
    TOP_SESSIONS,
    kinds={"duckdb", "sql"},
    partitions_def=request_partitions,
    deps=[gcore_requests],
)
def top_sessions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult[Any]:
    """The day's 10 busiest sessions of the domain, recomputed from gcore_requests."""
    day, domain_id = partition_of(context)
    with warehouse.get_connection() as connection:
        row_count = refresh_top_sessions(connection, day, domain_id)
    return dg.MaterializeResult(metadata=table_metadata(TOP_SESSIONS, row_count))


@table_asset(
    ACTIVE_SESSIONS,
    kinds={"duckdb", "sql"},
    deps=[accesswatch_sessions, appgate_active_sessions],
)
def active_sessions(warehouse: WarehouseResource) -> dg.MaterializeResult[Any]:
    """The active-session time series, recomputed from every snapshot."""
    with warehouse.get_connection() as connection:
        row_count = refresh_active_sessions(connection)
        latest = connection.execute(
            "SELECT source, sessions FROM active_sessions WHERE dimension = 'total' "
            "QUALIFY row_number() OVER (PARTITION BY source ORDER BY snapshot_at DESC) = 1"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            **table_metadata(ACTIVE_SESSIONS, row_count),
            **{f"active_sessions_{source}": sessions for source, sessions in latest},
        }
    )


ASSETS = [
    gcore_requests,
    gcore_ip_top_sessions,
    accesswatch_sessions,
    appgate_active_sessions,
    top_sessions,
    active_sessions,
]
