"""The software-defined assets: four raw tables loaded from the APIs, two summaries in SQL.

Each builder makes one table's asset from the `AssetSpec` the translator gave it, so
keys, groups and owners are the user's while the code is the same. Every asset reads all
it needs for a partition from its API before it writes, then writes in one short
transaction: a failed read leaves the table as it was, and a run that loses a commit
conflict to another run writing the same table redoes only that transaction. A step
opens the lake once and does all its reads and writes on that connection. A run of a
partition range (a backfill) loads up to PARTITIONS_AT_ONCE partitions of
`gcore_requests` at once, and the other tables' partitions one after the other.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg

from waap_sessions.errors import LoadRefusedError, WaapSessionsError
from waap_sessions.partitions import parse_partition_key
from waap_sessions.resources import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    WarehouseResource,
)
from waap_sessions.run_config import (
    RequestsConfig,
    SnapshotConfig,
    TopSessionsConfig,
    check_run_config,
    run_settings,
)
from waap_sessions.sql import literal
from waap_sessions.summaries import refresh_active_sessions, refresh_top_sessions
from waap_sessions.translator import table_metadata
from waap_sessions.warehouse import (
    ACCESSWATCH_SESSIONS,
    ACTIVE_SESSIONS,
    APPGATE_ACTIVE_SESSIONS,
    GCORE_IP_TOP_SESSIONS,
    GCORE_REQUESTS,
    TOP_SESSIONS,
    PartitionLoadRecord,
    Table,
    append,
    arrow_rows,
    domain_names,
    last_load,
    record_domains,
    replace_partition,
    table_rows,
)

# The clients, their models and DuckDB load with the first run that uses them: loading
# the code location needs none of them. (Dagster reads the asset functions' annotations,
# so this module cannot postpone them all with `from __future__ import annotations`.)
if TYPE_CHECKING:
    import duckdb

    from waap_sessions.accesswatch import Session
    from waap_sessions.appgate import ActiveSessionsDashboard
    from waap_sessions.gcore import GcoreWaapClient, RequestStream, TopSession
    from waap_sessions.http_core import VendorClient

# How many partitions a range run lists, one by one, in its metadata.
LISTED_PARTITIONS = 100
# A load keeping less than this share of the rows the API reported does not replace a
# partition that holds rows: a quiet day still has its rows counted, a cut listing not.
LEAST_SHARE_KEPT = 0.5
# How many partitions of a range run load at once (their pages share the client's cap
# on requests in flight, and its rate limit).
PARTITIONS_AT_ONCE = 4


@dataclass(frozen=True)
class AssetOptions:
    """What the factory decides for every asset: how ranges run and which pool bounds them."""

    backfill_policy: dg.BackfillPolicy | None
    pool: str | None
    # The config class of every op of the definitions that takes one, by op name: each
    # API asset's step checks the whole run's config against them before it starts.
    run_configs: Mapping[str, type[dg.Config]] = field(default_factory=dict)


AssetBuilder = Callable[[dg.AssetSpec, AssetOptions], dg.AssetsDefinition]


def op_name(spec: dg.AssetSpec) -> str:
    """The asset's op name, unique because its key is: `security/gcore_requests` ->
    `security__gcore_requests`."""
    return spec.key.to_python_identifier()


def table_asset(
    spec: dg.AssetSpec, options: AssetOptions, **arguments: Any
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`@dg.multi_asset` of one spec: the translator's spec, the factory's options."""
    partitioned = spec.partitions_def is not None
    decorator: Callable[[Callable[..., Any]], dg.AssetsDefinition] = dg.multi_asset(
        specs=[spec],
        name=op_name(spec),
        backfill_policy=options.backfill_policy if partitioned else None,
        pool=options.pool,
        **arguments,
    )
    return decorator


@dataclass(frozen=True)
class PartitionLoad:
    """What loading one partition took and wrote, for its log line and the run's metadata."""

    partition: str
    rows: int
    seconds: float
    requests: int
    pages: int = 0
    windows: int = 0
    api_reported_count: int | None = None
    blocked: int = 0
    duplicates_skipped: int = 0
    unchanged: bool = False

    def describe(self) -> str:
        """The log line, e.g. `2026-11-19|1001: 3,112 rows written (4 pages, 1 window, ...)`."""
        if self.unchanged:
            return (
                f"{self.partition}: unchanged, {self.rows:,} rows kept (the API's count "
                f"matches; {self.requests} HTTP request, {self.seconds:.1f} s)"
            )
        details = []
        if self.pages:
            details.append(f"{self.pages} pages, {self.windows} query window(s)")
        if self.requests:
            details.append(f"{self.requests} HTTP requests")
        details.append(f"{self.seconds:.1f} s")
        return f"{self.partition}: {self.rows:,} rows written ({', '.join(details)})"


def day_window(day: date, now: datetime) -> tuple[datetime, datetime | None]:
    """[midnight, next midnight) in UTC; today's window stays open (pinned when read)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    if start > now:
        raise ValueError(f"{day} has not started yet (UTC now is {now:%Y-%m-%d %H:%M})")
    return start, (None if end > now else end)


def partition_metadata(
    table: Table, loads: list[PartitionLoad], connection: "duckdb.DuckDBPyConnection"
) -> dict[str, Any]:
    """Metadata of a run of one partition or a range: rows per partition, and the table's.

    One partition's rows go in `dagster/partition_row_count`, its domain's name (as the
    lake records it) in `waap/domain_name`. A range run gives every partition the same
    metadata (Dagster keeps one set per step), so it lists each partition's load and
    domain name instead, under `waap/partitions`.
    """
    total = table_rows(connection, table)
    names = domain_names(connection)
    single = loads[0] if len(loads) == 1 else None
    metadata = table_metadata(
        table, row_count=total, partition_row_count=single.rows if single else None
    )
    metadata["waap/rows_written"] = sum(load.rows for load in loads if not load.unchanged)
    if single is None:
        metadata["waap/partitions_loaded"] = len(loads)
        metadata["waap/partitions"] = dg.MetadataValue.json(
            [
                {**asdict(load), "domain_name": names.get(parse_partition_key(load.partition)[1])}
                for load in loads[:LISTED_PARTITIONS]
            ]
        )
    elif name := names.get(parse_partition_key(single.partition)[1]):
        metadata["waap/domain_name"] = name
    return metadata


def traffic_metadata(client: "GcoreWaapClient") -> dict[str, Any]:
    """The HTTP counters of the run's client, as `waap/http_*`."""
    return {f"waap/http_{name}": value for name, value in client.http.stats.snapshot().items()}


def drift_metadata(context: dg.AssetExecutionContext, client: "VendorClient") -> dict[str, Any]:
    """`waap/schema_drift`: the undocumented fields and values in the run's answers (see
    `waap_sessions.models`), each with its count; logged as a warning when there are any."""
    drift = dict(sorted(client.schema_drift.items()))
    if drift:
        context.log.warning(f"Schema drift in the API's answers (loaded): {drift}")
    return {"waap/schema_drift": dg.MetadataValue.json(drift)}


def build_gcore_requests(spec: dg.AssetSpec, options: AssetOptions) -> dg.AssetsDefinition:
    """gcore_requests: every request of a domain on a UTC day, each partition replaced."""

    @table_asset(spec, options, config_schema=RequestsConfig.to_fields_dict())
    def load_requests(
        context: dg.AssetExecutionContext,
        gcore: GcoreWaapResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult[Any]:
        """Every request of one domain on one UTC day, replacing that partition.

        A range's partitions load several at once through one client (one connection
        pool, one rate limit); their commits take turns on one connection.
        """
        config = run_settings(context, options.run_configs, RequestsConfig)
        with ThreadPoolExecutor(max_workers=1) as opener:
            # The lake's engine opens while the HTTP stack is imported: 0.3 s less a run.
            engine = opener.submit(warehouse.open_engine)
            client = gcore.get_client()
        with client:
            engine.result()  # a lake that cannot open fails here, the client still closed
            with warehouse.get_connection() as connection:
                loader = RequestsLoader(client, connection, config.reload_unchanged)
                with ThreadPoolExecutor(
                    max_workers=PARTITIONS_AT_ONCE, thread_name_prefix="waap-partition"
                ) as pool:
                    loads = []
                    for load in pool.map(loader.load, context.partition_keys):
                        context.log.info(load.describe())
                        loads.append(load)
                record_missing_domain_names(context, client, connection, loads)
                metadata = partition_metadata(GCORE_REQUESTS, loads, connection)
                traffic = traffic_metadata(client)
                drift = drift_metadata(context, client)
        if len(loads) == 1:
            (load,) = loads
            metadata["waap/api_reported_count"] = load.api_reported_count
            metadata["waap/unchanged"] = load.unchanged
            if not load.unchanged:
                metadata["waap/blocked_share"] = (
                    round(load.blocked / load.rows, 4) if load.rows else 0.0
                )
                metadata["waap/pages"] = load.pages
                metadata["waap/query_windows"] = load.windows
                metadata["waap/duplicates_skipped"] = load.duplicates_skipped
        return dg.MaterializeResult(metadata={**metadata, **traffic, **drift})

    return load_requests


def record_missing_domain_names(
    context: dg.AssetExecutionContext,
    client: "GcoreWaapClient",
    connection: "duckdb.DuckDBPyConnection",
    loads: list[PartitionLoad],
) -> None:
    """Make sure the lake names every domain the run loaded, for the run's metadata.

    The domain sensor records the names; a domain added by hand, or a lake older than
    the names, lacks them: then one call to the domains API records every domain's. A
    failed call costs the names, never the load, which is committed already.
    """
    loaded = {parse_partition_key(load.partition)[1] for load in loads}
    if loaded <= domain_names(connection).keys():
        return
    try:
        names = {domain.id: domain.name for domain in client.iter_domains()}
    except WaapSessionsError as error:
        context.log.warning(f"Domain names left out of the metadata: {error}")
        return
    record_domains(connection, names)


@dataclass
class RequestsLoader:
    """Loads gcore_requests partitions, several at once, into one lake connection.

    Each partition's pages are staged on disk as they come (see `staging`), then the
    partition is replaced in one transaction; the commits take turns on the connection.
    A past day already loaded whole is first asked for its count: when the API still
    reports the rows stored, that one request is all the partition costs.
    """

    client: "GcoreWaapClient"
    connection: "duckdb.DuckDBPyConnection"
    reload_unchanged: bool = False
    _commits: threading.Lock = field(default_factory=threading.Lock)

    def load(self, key: str) -> PartitionLoad:
        """Read one partition's requests from Gcore, then replace the partition with them."""
        started = time.monotonic()
        day, domain_id = parse_partition_key(key)
        loaded_at = datetime.now(UTC)
        start, end = day_window(day, loaded_at)
        with self._commits:
            stored = last_load(self.connection, GCORE_REQUESTS, day, domain_id)
        if end is not None and not self.reload_unchanged and stored and is_whole(stored, end):
            count = self.client.count_requests(start, end, domains=[domain_id])
            if count == stored.row_count:
                return PartitionLoad(
                    partition=key,
                    rows=stored.row_count,
                    seconds=round(time.monotonic() - started, 3),
                    requests=1,
                    api_reported_count=count,
                    unchanged=True,
                )
        from waap_sessions.staging import staged_requests

        stream = self.client.iter_requests(start, end, domains=[domain_id])
        blocked = 0
        with staged_requests() as staged:
            for rows in stream.iter_pages():
                staged.add(rows)
                blocked += sum(row.decision == "blocked" for row in rows)
            refuse_implausible(key, stream, stored.row_count if stored else 0)
            # The count of exactly the window read, [start, pinned end): what the API
            # counted as the read ended, less the rows it counted outside the window.
            counted = window_count(stream)
            with self._commits:
                replace_partition(
                    self.connection,
                    GCORE_REQUESTS,
                    {"day": day, "domain_id": domain_id},
                    staged.as_rows(day, loaded_at),
                    api_reported_count=counted,
                )
        return PartitionLoad(
            partition=key,
            rows=stream.rows,
            seconds=round(time.monotonic() - started, 3),
            requests=stream.pages,
            pages=stream.pages,
            windows=stream.windows,
            api_reported_count=counted,
            blocked=blocked,
            duplicates_skipped=stream.duplicates,
        )


def window_count(stream: "RequestStream") -> int | None:
    """The API's count of the rows inside the window read: its count as the read ended
    (arrivals while paging included), less the rows it returned outside the window (a
    server that takes `end` as inclusive counts the next day's first request)."""
    if stream.reported_count is None:
        return None
    return stream.reported_count - stream.out_of_window


def refuse_implausible(key: str, stream: "RequestStream", stored_rows: int) -> None:
    """Fail before writing when what was read cannot be the partition.

    Rows that all fall outside the window asked for mean the API's `request_time` changed
    meaning (seconds for milliseconds, say); far fewer rows than the API reported (less
    than LEAST_SHARE_KEPT) mean a cut listing. Either would replace a day that holds rows
    with nothing, and its top sessions with it, while the run succeeded.
    """
    if stream.rows == 0 and stream.out_of_window:
        raise LoadRefusedError(
            f"{key}: every one of the {stream.out_of_window:,} rows Gcore returned has a "
            "request_time outside the day asked for (a unit other than milliseconds?); "
            "nothing was written, the partition is as it was"
        )
    reported = stream.reported_count
    if stored_rows and reported and stream.rows < reported * LEAST_SHARE_KEPT:
        raise LoadRefusedError(
            f"{key}: {stream.rows:,} rows read where Gcore reported {reported:,} "
            f"({stream.out_of_window:,} outside the day); nothing was written, the "
            f"{stored_rows:,} rows stored are kept"
        )


def is_whole(stored: PartitionLoadRecord, day_end: datetime) -> bool:
    """Whether a stored load holds its whole day: loaded after the day ended, with every
    row the API reported then (a count to compare a probe with)."""
    return stored.loaded_at >= day_end and stored.api_reported_count == stored.row_count


def build_gcore_ip_top_sessions(spec: dg.AssetSpec, options: AssetOptions) -> dg.AssetsDefinition:
    """gcore_ip_top_sessions: IP Spotlight for each partition's busiest IPs."""

    @table_asset(spec, options, config_schema=TopSessionsConfig.to_fields_dict())
    def load_ip_top_sessions(
        context: dg.AssetExecutionContext,
        gcore: GcoreWaapResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult[Any]:
        """IP Spotlight for the partition's busiest IPs, replacing that partition."""
        config = run_settings(context, options.run_configs, TopSessionsConfig)
        with gcore.get_client() as client, warehouse.get_connection() as connection:
            loads = [
                load_ip_top_sessions_partition(context, client, connection, key, config.top_ips)
                for key in context.partition_keys
            ]
            traffic = traffic_metadata(client)
            drift = drift_metadata(context, client)
            metadata = partition_metadata(GCORE_IP_TOP_SESSIONS, loads, connection)
        return dg.MaterializeResult(metadata={**metadata, **traffic, **drift})

    return load_ip_top_sessions


def load_ip_top_sessions_partition(
    context: dg.AssetExecutionContext,
    client: "GcoreWaapClient",
    connection: "duckdb.DuckDBPyConnection",
    key: str,
    top_ips: int,
) -> PartitionLoad:
    """Look up one partition's busiest IPs, then replace the partition with the answers."""
    from waap_sessions.http_core import map_in_order

    started, before = time.monotonic(), client.http.stats.snapshot()
    day, domain_id = parse_partition_key(key)
    busiest = [
        ip
        for (ip,) in connection.execute(
            f"SELECT client_ip FROM {GCORE_REQUESTS.name} "
            f"WHERE day = {literal(day)} AND domain_id = {literal(domain_id)} "
            f"GROUP BY client_ip ORDER BY count(*) DESC, client_ip LIMIT {literal(top_ips)}"
        ).fetchall()
    ]
    fetched_at = datetime.now(UTC)
    answers = list(
        map_in_order(
            lambda ip: client.get_top_sessions(ip, domain_id),
            busiest,
            workers=client.http.settings.max_in_flight,
        )
    )
    columns = top_session_columns(domain_id, day, busiest, answers, fetched_at)
    replace_partition(
        connection,
        GCORE_IP_TOP_SESSIONS,
        {"day": day, "domain_id": domain_id},
        arrow_rows(GCORE_IP_TOP_SESSIONS, columns),
    )
    after = client.http.stats.snapshot()
    load = PartitionLoad(
        partition=key,
        rows=len(columns["session_id"]),
        seconds=round(time.monotonic() - started, 3),
        requests=int(after["requests"] - before["requests"]),
    )
    context.log.info(f"{load.describe()}; {len(busiest)} IPs looked up")
    return load


def top_session_columns(
    domain_id: int,
    day: date,
    ips: list[str],
    answers: "list[list[TopSession]]",
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


def append_snapshot(
    warehouse: WarehouseResource, table: Table, columns: dict[str, list[Any]]
) -> int:
    """Append one snapshot's rows to `table` in one transaction; the table's rows after."""
    with warehouse.get_connection() as connection:
        append(connection, table, arrow_rows(table, columns))
        return table_rows(connection, table)


def build_accesswatch_sessions(spec: dg.AssetSpec, options: AssetOptions) -> dg.AssetsDefinition:
    """accesswatch_sessions: one snapshot of the current sessions per run, appended."""

    @table_asset(spec, options, config_schema=SnapshotConfig.to_fields_dict())
    def snapshot_accesswatch_sessions(
        context: dg.AssetExecutionContext,
        accesswatch: AccessWatchResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult[Any]:
        """Appends one snapshot of the current Access Watch sessions."""
        config = run_settings(context, options.run_configs, SnapshotConfig)
        warehouse.open_engine()  # a lake that cannot open fails before the API is asked
        snapshot_at = datetime.now(UTC)
        with accesswatch.get_client() as client:
            sessions = client.get_sessions(limit=config.limit)
        total = append_snapshot(
            warehouse, ACCESSWATCH_SESSIONS, session_columns(sessions, snapshot_at)
        )
        context.log.info(f"Snapshot of {len(sessions):,} Access Watch sessions appended")
        statuses = Counter(session.reputation.status for session in sessions)
        return dg.MaterializeResult(
            metadata={
                **table_metadata(ACCESSWATCH_SESSIONS, row_count=total),
                "waap/rows_written": len(sessions),
                "waap/snapshot_at": snapshot_at.isoformat(),
                **{f"waap/reputation_{status}": n for status, n in sorted(statuses.items())},
                **drift_metadata(context, client),
            }
        )

    return snapshot_accesswatch_sessions


def session_columns(sessions: "Iterable[Session]", snapshot_at: datetime) -> dict[str, list[Any]]:
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


def build_appgate_active_sessions(spec: dg.AssetSpec, options: AssetOptions) -> dg.AssetsDefinition:
    """appgate_active_sessions: one dashboard snapshot per run, appended."""

    @table_asset(spec, options)
    def snapshot_appgate_active_sessions(
        context: dg.AssetExecutionContext, appgate: AppgateSdpResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult[Any]:
        """Appends one snapshot of the Appgate SDP active-sessions dashboard."""
        check_run_config(context.run.run_config, options.run_configs)
        warehouse.open_engine()  # a lake that cannot open fails before the API is asked
        snapshot_at = datetime.now(UTC)
        with appgate.get_client() as client:
            dashboard = client.get_active_sessions_dashboard()
        total = append_snapshot(
            warehouse, APPGATE_ACTIVE_SESSIONS, dashboard_columns(dashboard, snapshot_at)
        )
        # Every dashboard field is optional: a missing total loads as NULL.
        count = "?" if dashboard.total_count is None else f"{dashboard.total_count:,}"
        context.log.info(f"Appgate snapshot appended: {count} active sessions")
        return dg.MaterializeResult(
            metadata={
                **table_metadata(APPGATE_ACTIVE_SESSIONS, row_count=total),
                "waap/rows_written": 1,
                "waap/active_sessions": dashboard.total_count,
                "waap/locations": len(dashboard.geo_ip_data),
                "waap/client_versions": len(dashboard.versions),
                "waap/snapshot_at": snapshot_at.isoformat(),
                **drift_metadata(context, client),
            }
        )

    return snapshot_appgate_active_sessions


def dashboard_columns(
    dashboard: "ActiveSessionsDashboard", snapshot_at: datetime
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


def build_top_sessions(spec: dg.AssetSpec, options: AssetOptions) -> dg.AssetsDefinition:
    """top_sessions: each partition's 10 busiest sessions, recomputed from gcore_requests."""

    @table_asset(spec, options)
    def compute_top_sessions(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult[Any]:
        """The day's 10 busiest sessions of the domain, recomputed from gcore_requests."""
        loads = []
        with warehouse.get_connection() as connection:
            for key in context.partition_keys:
                started = time.monotonic()
                day, domain_id = parse_partition_key(key)
                rows = refresh_top_sessions(connection, day, domain_id)
                load = PartitionLoad(key, rows, round(time.monotonic() - started, 3), 0)
                context.log.info(load.describe())
                loads.append(load)
            metadata = partition_metadata(TOP_SESSIONS, loads, connection)
        return dg.MaterializeResult(metadata=metadata)

    return compute_top_sessions


def build_active_sessions(spec: dg.AssetSpec, options: AssetOptions) -> dg.AssetsDefinition:
    """active_sessions: the time series of every snapshot, recomputed whole."""

    @table_asset(spec, options)
    def compute_active_sessions(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult[Any]:
        """The active-session time series, recomputed from every snapshot."""
        with warehouse.get_connection() as connection:
            row_count = refresh_active_sessions(connection)
            latest = connection.execute(
                f"SELECT source, sessions FROM {ACTIVE_SESSIONS.name} WHERE dimension = 'total' "
                "QUALIFY row_number() OVER (PARTITION BY source ORDER BY snapshot_at DESC) = 1"
            ).fetchall()
        context.log.info(f"{ACTIVE_SESSIONS.name} recomputed: {row_count:,} rows")
        return dg.MaterializeResult(
            metadata={
                **table_metadata(ACTIVE_SESSIONS, row_count=row_count),
                **{f"waap/active_sessions_{source}": sessions for source, sessions in latest},
            }
        )

    return compute_active_sessions


# The builder of each table's asset, by table name.
BUILDERS: dict[str, AssetBuilder] = {
    GCORE_REQUESTS.name: build_gcore_requests,
    GCORE_IP_TOP_SESSIONS.name: build_gcore_ip_top_sessions,
    ACCESSWATCH_SESSIONS.name: build_accesswatch_sessions,
    APPGATE_ACTIVE_SESSIONS.name: build_appgate_active_sessions,
    TOP_SESSIONS.name: build_top_sessions,
    ACTIVE_SESSIONS.name: build_active_sessions,
}
