"""The warehouse: every table declared once, written in bulk, partitions replaced whole.

The declarations below are the contract with BI. The same objects create the tables,
give each asset its Dagster column schema, and write the README's table reference.
Keys and required columns are verified by asset checks rather than enforced: DuckLake
has no keys, and an enforced NOT NULL would fail a load instead of reporting it. Where
the tables live, and how a write survives other writers, is `lake.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import dagster as dg

from waap_sessions.lake import LAKE, LakeSettings, open_lake, write_transaction
from waap_sessions.sql import literal

# Arrow and DuckDB load with the first write or connection: the declarations, which the
# code location reads when it loads, need neither.
if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


@dataclass(frozen=True)
class Column:
    """One column: its DuckDB type, what it means, and whether it may be NULL."""

    name: str
    type: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class Table:
    """One table of the contract: its columns, its key and how a partition is replaced."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    def create_sql(self) -> str:
        columns = ",\n  ".join(f"{column.name} {column.type}" for column in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  {columns}\n)"

    def column_schema(self) -> dg.TableSchema:
        """The schema as Dagster metadata, shown on the asset in the UI."""
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=column.name,
                    type=column.type,
                    description=column.description,
                    constraints=dg.TableColumnConstraints(nullable=not column.required),
                )
                for column in self.columns
            ],
            constraints=dg.TableConstraints(other=[f"unique key: ({', '.join(self.key)})"]),
        )

    def markdown(self) -> str:
        """The table's entry in the README's reference."""
        lines = [
            f"### `{self.name}`",
            "",
            self.description,
            "",
            f"Key: `({', '.join(self.key)})`."
            + (
                f" Replaced per partition by `({', '.join(self.partition_by)})`."
                if self.partition_by
                else ""
            ),
            "",
            "| column | type | required | meaning |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{c.name}` | `{c.type}` | {'yes' if c.required else 'no'} | {c.description} |"
            for c in self.columns
        ]
        return "\n".join(lines)


def _column(name: str, kind: str, description: str, *, required: bool = True) -> Column:
    return Column(name, kind, description, required)


GCORE_REQUESTS = Table(
    name="gcore_requests",
    description=(
        "Every request Gcore WAAP saw on a domain: one row per request, loaded per UTC day "
        "and domain from `GET /waap/v1/analytics/requests`."
    ),
    key=("id",),
    partition_by=("day", "domain_id"),
    columns=(
        _column("id", "VARCHAR", "The request's unique id (`<32 hex>-<6 digits>`)."),
        _column("day", "DATE", "The UTC day of `request_time` (the partition)."),
        _column("domain_id", "BIGINT", "Gcore domain id (the partition)."),
        _column("domain", "VARCHAR", "Domain name."),
        _column(
            "request_time", "TIMESTAMPTZ", "When the request arrived, UTC, to the millisecond."
        ),
        _column("session_id", "VARCHAR", "Session id, 32 lower-case hex; '' when none."),
        _column("client_ip", "VARCHAR", "Client IP address (IPv4 or IPv6)."),
        _column("country", "VARCHAR", "Country of the client IP, ISO 3166-1 alpha-2."),
        _column("organization", "VARCHAR", "Organization owning the client IP."),
        _column("method", "VARCHAR", "HTTP method."),
        _column("path", "VARCHAR", "Request path."),
        _column("scheme", "VARCHAR", "URI scheme, e.g. https."),
        _column("http_version", "VARCHAR", "HTTP version, e.g. 1.1."),
        _column("status_code", "INTEGER", "HTTP status code answered (100-599)."),
        _column("decision", "VARCHAR", "WAAP decision: passed, allowed, monitored, blocked or ''."),
        _column("optional_action", "VARCHAR", "captcha, challenge or ''."),
        _column("result", "VARCHAR", "passed, blocked, suppressed or ''."),
        _column("action", "VARCHAR", "Action of the triggered rule."),
        _column("rule_id", "VARCHAR", "Id of the triggered rule."),
        _column("rule_name", "VARCHAR", "Name of the triggered rule."),
        _column("reference_id", "VARCHAR", "Reference to the sanction given, 32 hex or ''."),
        _column("traffic_types", "VARCHAR", "Comma-separated traffic types."),
        _column("user_agent", "VARCHAR", "User-Agent header."),
        _column("user_agent_client", "VARCHAR", "Client parsed from the user agent."),
        _column("ja3", "VARCHAR", "JA3 TLS fingerprint, 32 lower-case hex or ''."),
        _column(
            "policy_override",
            "JSON",
            "Policy overrides that applied, as Gcore sends them.",
            required=False,
        ),
        _column("loaded_at", "TIMESTAMPTZ", "When this row was loaded."),
    ),
)

GCORE_IP_TOP_SESSIONS = Table(
    name="gcore_ip_top_sessions",
    description=(
        "IP Spotlight answers (`GET /waap/v1/ip-info/top-sessions`) for the busiest IPs of "
        "each day and domain: the top sessions of each IP on the domain."
    ),
    key=("domain_id", "day", "ip", "session_id"),
    partition_by=("day", "domain_id"),
    columns=(
        _column("domain_id", "BIGINT", "Gcore domain id (the partition)."),
        _column("day", "DATE", "The UTC day whose busiest IPs were looked up (the partition)."),
        _column("ip", "VARCHAR", "The IP looked up."),
        _column("ip_rank", "INTEGER", "The IP's rank by requests that day (1 = busiest)."),
        _column("session_id", "VARCHAR", "Session id, normalised to 32 lower-case hex."),
        _column("requests", "BIGINT", "Requests in the session."),
        _column("blocked", "BIGINT", "Blocked requests in the session."),
        _column("duration_s", "DOUBLE", "Session duration in seconds."),
        _column("start_time", "TIMESTAMPTZ", "When the session started, UTC."),
        _column("fetched_at", "TIMESTAMPTZ", "When IP Spotlight was asked."),
    ),
)

ACCESSWATCH_SESSIONS = Table(
    name="accesswatch_sessions",
    description=(
        "Snapshots of Access Watch's current sessions (`GET /1.1/sessions`): one row per "
        "session per snapshot, nested objects flattened to columns."
    ),
    key=("snapshot_at", "session_id"),
    columns=(
        _column("snapshot_at", "TIMESTAMPTZ", "When the snapshot was taken."),
        _column("session_id", "VARCHAR", "Access Watch session id."),
        _column("requests", "BIGINT", "Requests in the session so far (`count`)."),
        _column("updated_at", "TIMESTAMPTZ", "Last activity.", required=False),
        _column("identity_id", "VARCHAR", "Identity id."),
        _column("identity_type", "VARCHAR", "robot, browser, or NULL.", required=False),
        _column("identity_name", "VARCHAR", "Identity name.", required=False),
        _column("ip", "VARCHAR", "Client IP (`address.value`)."),
        _column("hostname", "VARCHAR", "Reverse DNS of the IP.", required=False),
        _column("as_number", "VARCHAR", "Autonomous system number.", required=False),
        _column("network_name", "VARCHAR", "Network name.", required=False),
        _column("country_code", "VARCHAR", "Country of the IP.", required=False),
        _column("address_flags", "VARCHAR[]", "broadband, mobile, vpn, tor, ...", required=False),
        _column("language_code", "VARCHAR", "Signature language.", required=False),
        _column("signature_country_code", "VARCHAR", "Signature country.", required=False),
        _column("user_agent", "VARCHAR", "User-Agent header.", required=False),
        _column("user_agent_type", "VARCHAR", "User agent type.", required=False),
        _column("agent_name", "VARCHAR", "Parsed agent name, e.g. chrome.", required=False),
        _column("agent_version", "VARCHAR", "Parsed agent version.", required=False),
        _column("system_name", "VARCHAR", "Parsed operating system.", required=False),
        _column("speed_per_minute", "DOUBLE", "Requests per minute.", required=False),
        _column("reputation_status", "VARCHAR", "nice, ok, suspicious or bad."),
        _column("reputation_threats", "VARCHAR[]", "Threats seen.", required=False),
        _column("robot_name", "VARCHAR", "Robot name, for robots.", required=False),
    ),
)

APPGATE_ACTIVE_SESSIONS = Table(
    name="appgate_active_sessions",
    description=(
        "Snapshots of the Appgate SDP active-sessions dashboard "
        "(`GET /stats/active-sessions/dashboard`): one row per snapshot."
    ),
    key=("snapshot_at",),
    columns=(
        _column("snapshot_at", "TIMESTAMPTZ", "When the snapshot was taken."),
        _column("total_count", "BIGINT", "Active sessions in total.", required=False),
        _column(
            "by_location",
            "STRUCT(country_code VARCHAR, continent_code VARCHAR, latitude DOUBLE, "
            "longitude DOUBLE, session_count BIGINT, ips VARCHAR[])[]",
            "Active sessions by location.",
        ),
        _column(
            "by_version",
            "STRUCT(client_version VARCHAR, support_status VARCHAR, session_count BIGINT)[]",
            "Active sessions by client version.",
        ),
    ),
)

TOP_SESSIONS = Table(
    name="top_sessions",
    description=(
        "Per domain and UTC day, the 10 sessions with the most requests (ties by session "
        "id; requests without a session left out), computed from `gcore_requests`."
    ),
    key=("domain_id", "day", "rank"),
    partition_by=("day", "domain_id"),
    columns=(
        _column("domain_id", "BIGINT", "Gcore domain id."),
        _column("day", "DATE", "UTC day."),
        _column("rank", "INTEGER", "1 = most requests."),
        _column("session_id", "VARCHAR", "Session id, 32 lower-case hex."),
        _column("requests", "BIGINT", "Requests in the session that day."),
        _column("blocked", "BIGINT", "Of them, with decision blocked."),
        _column("first_request_at", "TIMESTAMPTZ", "First request that day."),
        _column("last_request_at", "TIMESTAMPTZ", "Last request that day."),
        _column("duration_s", "DOUBLE", "Seconds from first to last request."),
        _column("client_ip", "VARCHAR", "The session's most frequent IP."),
        _column("country", "VARCHAR", "The session's most frequent country."),
        _column("user_agent_client", "VARCHAR", "The session's most frequent UA client."),
    ),
)

ACTIVE_SESSIONS = Table(
    name="active_sessions",
    description=(
        "A long time series for BI: per snapshot, source, dimension and value, the number of "
        "active sessions. Sources: appgate, accesswatch. Dimensions: total, country, "
        "continent, client_version, support_status, reputation_status, identity_type."
    ),
    key=("snapshot_at", "source", "dimension", "value"),
    columns=(
        _column("snapshot_at", "TIMESTAMPTZ", "When the snapshot was taken."),
        _column("source", "VARCHAR", "appgate or accesswatch."),
        _column("dimension", "VARCHAR", "What `value` is a value of; `total` for the total."),
        _column(
            "value",
            "VARCHAR",
            "The dimension's value ('all' for the total, 'unknown' when absent).",
        ),
        _column("sessions", "BIGINT", "Active sessions."),
    ),
)

TABLES: tuple[Table, ...] = (
    GCORE_REQUESTS,
    GCORE_IP_TOP_SESSIONS,
    ACCESSWATCH_SESSIONS,
    APPGATE_ACTIVE_SESSIONS,
    TOP_SESSIONS,
    ACTIVE_SESSIONS,
)


def table_reference() -> str:
    """Every table's README entry, in order: the contract with BI, as Markdown."""
    return "\n\n".join(table.markdown() for table in TABLES)


# One row per table of the contract, updated by every replacement of its rows (`claim`).
# It lives in a schema of its own, beside the contract's tables, not among them.
TABLE_WRITES = "waap_meta.table_writes"
# One row per loaded partition of a partitioned table: how many rows it holds and, for
# gcore_requests, how many the API reported. Written in the partition's own transaction,
# so it always describes the rows that are there; the row-count checks read it.
PARTITION_LOADS = "waap_meta.partition_loads"
# The name of each Gcore domain by id, as the domains API last gave it: the partitions are
# keyed by id, and the UI, run tags and metadata show the name beside it.
DOMAINS = "waap_meta.domains"


# Rows per Parquet row group in the lake's files. A writer holds a row group per thread
# in memory, so this bounds a load's memory whatever the partition's size: DuckDB's
# default (122,880 rows, about 100 MB of gcore_requests) made a 1,000,000-row load peak
# 1.5x a 100,000-row one; at 20,000 rows it is 1.16x (measured on a DuckLake insert).
ROW_GROUP_ROWS = 20_000


def create_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create every table of the contract, and its row in TABLE_WRITES, that the lake lacks.

    Writers that meet a new lake race to create its tables; the loser's commit conflicts
    and is redone, and by then `IF NOT EXISTS` finds them.
    """
    existing = {
        f"{schema}.{name}"
        for schema, name in connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database()"
        ).fetchall()
    }
    missing = [table for table in TABLES if f"main.{table.name}" not in existing]
    if not missing and {TABLE_WRITES, PARTITION_LOADS, DOMAINS} <= existing:
        return
    names = ", ".join(f"('{table.name}')" for table in TABLES)

    def create(lake: duckdb.DuckDBPyConnection) -> None:
        if lake.execute("SELECT current_database()").fetchone() == (LAKE,):
            # A DuckLake option: a plain DuckDB file (the migration's source) has none.
            lake.execute(f"CALL {LAKE}.set_option('parquet_row_group_size', {ROW_GROUP_ROWS})")
        lake.execute(f"CREATE SCHEMA IF NOT EXISTS {TABLE_WRITES.split('.')[0]}")
        lake.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE_WRITES} (table_name VARCHAR, writes BIGINT)"
        )
        lake.execute(
            f"CREATE TABLE IF NOT EXISTS {PARTITION_LOADS} (table_name VARCHAR, day DATE, "
            "domain_id BIGINT, row_count BIGINT, api_reported_count BIGINT, "
            "loaded_at TIMESTAMP WITH TIME ZONE)"
        )
        lake.execute(
            f"CREATE TABLE IF NOT EXISTS {DOMAINS} (domain_id BIGINT, name VARCHAR, "
            "seen_at TIMESTAMP WITH TIME ZONE)"
        )
        for table in missing:
            lake.execute(table.create_sql())
        lake.execute(
            f"INSERT INTO {TABLE_WRITES} SELECT name, 0 FROM (VALUES {names}) AS t(name) "
            f"WHERE name NOT IN (SELECT table_name FROM {TABLE_WRITES})"
        )

    write_transaction(connection, create, what="creating the tables")


def claim(connection: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Make this transaction conflict with any other that replaces rows of `table` now.

    DuckLake finds a conflict when one transaction inserts into a table another deleted
    from. Replacing a partition that is still empty deletes nothing, so two first loads
    of one partition would both commit: the rows twice. Every replacement also updates
    the table's row in TABLE_WRITES, so concurrent replacements always conflict, and the
    loser is redone on top of the winner.
    """
    connection.execute(
        f"UPDATE {TABLE_WRITES} SET writes = writes + 1 WHERE table_name = {literal(table.name)}"
    )


def connect(
    read_only: bool = True, settings: LakeSettings | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection on which every table of the contract answers by its plain name.

    For notebooks, scripts and Python BI tools; close it when done (or use it in `with`).
    The lake is found through the WAAP_DUCKLAKE_* variables unless `settings` are given.
    A read-only connection never blocks a run, however long it is held, and each query
    sees whole partitions only. A writable one creates the tables the lake lacks.

        import waap_sessions
        with waap_sessions.connect() as lake:
            lake.sql("SELECT * FROM top_sessions ORDER BY day DESC, rank LIMIT 10").show()
    """
    connection = open_lake(settings or LakeSettings.from_env(), read_only=read_only)
    if not read_only:
        try:
            create_tables(connection)
        except BaseException:
            connection.close()
            raise
    return connection


@dataclass(frozen=True)
class SelectedRows:
    """Rows a query selects (from a staged file, say), to insert without a Python copy."""

    sql: str
    num_rows: int


def _insert(
    connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table | SelectedRows
) -> None:
    """Bulk-insert an Arrow table or a query's rows, matching columns by name."""
    if isinstance(rows, SelectedRows):
        connection.execute(f"INSERT INTO {table.name} BY NAME {rows.sql}")
        return
    connection.register("incoming_rows", rows)
    try:
        connection.execute(f"INSERT INTO {table.name} BY NAME SELECT * FROM incoming_rows")
    finally:
        connection.unregister("incoming_rows")


def append(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> None:
    """Add `rows` to `table` in one transaction (a snapshot): all of them or none."""
    write_transaction(
        connection, lambda lake: _insert(lake, table, rows), what=f"appending to {table.name}"
    )


def replace_partition(
    connection: duckdb.DuckDBPyConnection,
    table: Table,
    partition: Mapping[str, Any],
    rows: pa.Table | SelectedRows,
    *,
    api_reported_count: int | None = None,
) -> None:
    """Swap one partition's rows for `rows` in one transaction: re-runs never duplicate.

    Readers see the old partition or the new one, never a mix. A run that writes the
    same table at the same moment makes this commit conflict; it is then redone whole.
    The partition's row in PARTITION_LOADS is replaced in the same transaction.
    """
    assert set(partition) == set(table.partition_by) == {"day", "domain_id"}, partition
    condition = " AND ".join(f"{name} = {literal(value)}" for name, value in partition.items())
    load = {
        "table_name": table.name,
        **partition,
        "row_count": rows.num_rows,
        "api_reported_count": api_reported_count,
    }
    load_row = ", ".join(f"{literal(value)} AS {name}" for name, value in load.items())

    def swap(lake: duckdb.DuckDBPyConnection) -> None:
        claim(lake, table)
        lake.execute(f"DELETE FROM {table.name} WHERE {condition}")
        _insert(lake, table, rows)
        lake.execute(
            f"DELETE FROM {PARTITION_LOADS} "
            f"WHERE table_name = {literal(table.name)} AND {condition}"
        )
        lake.execute(f"INSERT INTO {PARTITION_LOADS} BY NAME SELECT {load_row}, now() AS loaded_at")

    write_transaction(connection, swap, what=f"replacing {table.name} {dict(partition)}")


@dataclass(frozen=True)
class PartitionLoadRecord:
    """What PARTITION_LOADS says of one partition's last load."""

    row_count: int
    api_reported_count: int | None
    loaded_at: datetime


def last_load(
    connection: duckdb.DuckDBPyConnection, table: Table, day: date, domain_id: int
) -> PartitionLoadRecord | None:
    """The partition's last load as its own transaction recorded it; None if never loaded."""
    row = connection.execute(
        f"SELECT row_count, api_reported_count, loaded_at FROM {PARTITION_LOADS} "
        f"WHERE table_name = {literal(table.name)} AND day = {literal(day)} "
        f"AND domain_id = {literal(domain_id)}"
    ).fetchone()
    return PartitionLoadRecord(*row) if row else None


def record_domains(connection: duckdb.DuckDBPyConnection, names: Mapping[int, str]) -> int:
    """Store the names (by domain id) that are new or changed, in one transaction.

    Returns how many were; none writes nothing, so a sensor may call it every tick
    without adding a lake snapshot each time.
    """
    recorded = domain_names(connection)
    changed = {domain: name for domain, name in names.items() if recorded.get(domain) != name}
    if not changed:
        return 0
    ids, values = literal(list(changed)), literal(list(changed.values()))

    def upsert(lake: duckdb.DuckDBPyConnection) -> None:
        lake.execute(f"DELETE FROM {DOMAINS} WHERE list_contains({ids}, domain_id)")
        lake.execute(
            f"INSERT INTO {DOMAINS} "
            f"SELECT unnest({ids}::BIGINT[]), unnest({values}::VARCHAR[]), now()"
        )

    write_transaction(connection, upsert, what=f"recording {len(changed)} domain name(s)")
    return len(changed)


def domain_names(connection: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Every recorded domain's name by id; none on a lake written before names were kept.

    Two writers recording one new domain at once may both insert it: the latest wins.
    """
    schema, name = DOMAINS.split(".")
    if not connection.execute(
        "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
        f"AND schema_name = {literal(schema)} AND table_name = {literal(name)}"
    ).fetchall():
        return {}
    rows = connection.execute(
        f"SELECT domain_id, arg_max(name, seen_at) FROM {DOMAINS} GROUP BY domain_id"
    ).fetchall()
    return {int(domain_id): str(value) for domain_id, value in rows}


def table_rows(connection: duckdb.DuckDBPyConnection, table: Table) -> int:
    """How many rows `table` holds now."""
    return count_of(connection, f"SELECT count(*) FROM {table.name}")


def count_of(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The number a `SELECT count(*) ...` answers."""
    row = connection.execute(sql).fetchone()
    return int(row[0]) if row else 0


def arrow_rows(table: Table, columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """An Arrow table with exactly `table`'s columns, from Python lists by column name."""
    import pyarrow as pa

    missing = set(table.column_names) - set(columns)
    assert not missing, f"{table.name}: no values for {sorted(missing)}"
    return pa.table({name: columns[name] for name in table.column_names})
