"""The two summary tables, computed in DuckDB SQL from the raw tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from string import Template
from typing import TYPE_CHECKING

from waap_sessions.lake import write_transaction
from waap_sessions.sql import literal
from waap_sessions.warehouse import (
    ACCESSWATCH_SESSIONS,
    ACTIVE_SESSIONS,
    APPGATE_ACTIVE_SESSIONS,
    GCORE_REQUESTS,
    TOP_SESSIONS,
    claim,
    count_of,
)

if TYPE_CHECKING:
    import duckdb

# Summary column -> {raw table -> the columns its values are computed from}. The factory
# turns it into Dagster's column lineage on the assets' translated keys; keep it beside
# the SQL it describes. Columns that are constants in the SQL (source, dimension) have none.
ColumnLineage = Mapping[str, Mapping[str, tuple[str, ...]]]

TOP_SESSIONS_PER_DAY = 10

# The most frequent value of a column within each session, ties by the smaller value.
_MAIN_VALUE = """
    SELECT session_id, first({column} ORDER BY n DESC, {column}) AS {column}
    FROM (SELECT session_id, {column}, count(*) AS n FROM requests GROUP BY ALL)
    GROUP BY session_id
"""

# `$day` and `$domain_id` are filled in by `top_sessions_sql`.
TOP_SESSIONS_SQL = f"""
WITH requests AS (
    SELECT * FROM gcore_requests WHERE day = $day AND domain_id = $domain_id AND session_id <> ''
),
per_session AS (
    SELECT
        session_id,
        count(*) AS requests,
        count(*) FILTER (WHERE decision = 'blocked') AS blocked,
        min(request_time) AS first_request_at,
        max(request_time) AS last_request_at
    FROM requests
    GROUP BY session_id
),
ranked AS (
    SELECT *, row_number() OVER (ORDER BY requests DESC, session_id) AS rank
    FROM per_session
    QUALIFY rank <= {TOP_SESSIONS_PER_DAY}
)
SELECT
    $domain_id AS domain_id,
    $day AS day,
    rank,
    ranked.session_id,
    requests,
    blocked,
    first_request_at,
    last_request_at,
    date_diff('millisecond', first_request_at, last_request_at) / 1000.0 AS duration_s,
    ips.client_ip,
    countries.country,
    clients.user_agent_client
FROM ranked
JOIN ({_MAIN_VALUE.format(column="client_ip")}) AS ips USING (session_id)
JOIN ({_MAIN_VALUE.format(column="country")}) AS countries USING (session_id)
JOIN ({_MAIN_VALUE.format(column="user_agent_client")}) AS clients USING (session_id)
ORDER BY rank
"""

_REQUESTS = GCORE_REQUESTS.name
TOP_SESSIONS_LINEAGE: ColumnLineage = {
    "domain_id": {_REQUESTS: ("domain_id",)},
    "day": {_REQUESTS: ("day",)},
    "rank": {_REQUESTS: ("id", "session_id")},
    "session_id": {_REQUESTS: ("session_id",)},
    "requests": {_REQUESTS: ("id",)},
    "blocked": {_REQUESTS: ("decision",)},
    "first_request_at": {_REQUESTS: ("request_time",)},
    "last_request_at": {_REQUESTS: ("request_time",)},
    "duration_s": {_REQUESTS: ("request_time",)},
    "client_ip": {_REQUESTS: ("client_ip",)},
    "country": {_REQUESTS: ("country",)},
    "user_agent_client": {_REQUESTS: ("user_agent_client",)},
}

ACTIVE_SESSIONS_SQL = """
SELECT snapshot_at, 'appgate' AS source, 'total' AS dimension, 'all' AS value,
       coalesce(total_count, 0) AS sessions
FROM appgate_active_sessions
UNION ALL
SELECT snapshot_at, 'appgate', 'country', coalesce(location.country_code, 'unknown'),
       sum(location.session_count)
FROM appgate_active_sessions, unnest(by_location) AS located(location)
GROUP BY ALL
UNION ALL
SELECT snapshot_at, 'appgate', 'continent', coalesce(location.continent_code, 'unknown'),
       sum(location.session_count)
FROM appgate_active_sessions, unnest(by_location) AS located(location)
GROUP BY ALL
UNION ALL
SELECT snapshot_at, 'appgate', 'client_version', version.client_version,
       sum(version.session_count)
FROM appgate_active_sessions, unnest(by_version) AS versioned(version)
GROUP BY ALL
UNION ALL
SELECT snapshot_at, 'appgate', 'support_status', coalesce(version.support_status, 'unknown'),
       sum(version.session_count)
FROM appgate_active_sessions, unnest(by_version) AS versioned(version)
GROUP BY ALL
UNION ALL
SELECT snapshot_at, 'accesswatch', 'total', 'all', count(*)
FROM accesswatch_sessions
GROUP BY ALL
UNION ALL
SELECT snapshot_at, 'accesswatch', 'country', coalesce(country_code, 'unknown'), count(*)
FROM accesswatch_sessions
GROUP BY ALL
UNION ALL
SELECT snapshot_at, 'accesswatch', 'reputation_status', reputation_status, count(*)
FROM accesswatch_sessions
GROUP BY ALL
UNION ALL
SELECT snapshot_at, 'accesswatch', 'identity_type', coalesce(identity_type, 'unknown'), count(*)
FROM accesswatch_sessions
GROUP BY ALL
"""


_APPGATE, _ACCESSWATCH = APPGATE_ACTIVE_SESSIONS.name, ACCESSWATCH_SESSIONS.name
ACTIVE_SESSIONS_LINEAGE: ColumnLineage = {
    "snapshot_at": {_APPGATE: ("snapshot_at",), _ACCESSWATCH: ("snapshot_at",)},
    "value": {
        _APPGATE: ("by_location", "by_version"),
        _ACCESSWATCH: ("country_code", "reputation_status", "identity_type"),
    },
    "sessions": {
        _APPGATE: ("total_count", "by_location", "by_version"),
        _ACCESSWATCH: ("session_id",),
    },
}

# Each summary's lineage, by table name.
LINEAGE: dict[str, ColumnLineage] = {
    TOP_SESSIONS.name: TOP_SESSIONS_LINEAGE,
    ACTIVE_SESSIONS.name: ACTIVE_SESSIONS_LINEAGE,
}


def top_sessions_sql(day: date, domain_id: int) -> str:
    """TOP_SESSIONS_SQL for one day of one domain."""
    return Template(TOP_SESSIONS_SQL).substitute(day=literal(day), domain_id=literal(domain_id))


def refresh_top_sessions(connection: duckdb.DuckDBPyConnection, day: date, domain_id: int) -> int:
    """Recompute one day and domain of `top_sessions`; returns its row count."""
    partition = f"day = {literal(day)} AND domain_id = {literal(domain_id)}"

    def recompute(lake: duckdb.DuckDBPyConnection) -> None:
        claim(lake, TOP_SESSIONS)
        lake.execute(f"DELETE FROM {TOP_SESSIONS.name} WHERE {partition}")
        lake.execute(f"INSERT INTO {TOP_SESSIONS.name} BY NAME {top_sessions_sql(day, domain_id)}")

    write_transaction(connection, recompute, what=f"recomputing {TOP_SESSIONS.name} {partition}")
    return count_of(connection, f"SELECT count(*) FROM {TOP_SESSIONS.name} WHERE {partition}")


def refresh_active_sessions(connection: duckdb.DuckDBPyConnection) -> int:
    """Recompute `active_sessions` from every snapshot; returns its row count."""

    def recompute(lake: duckdb.DuckDBPyConnection) -> None:
        claim(lake, ACTIVE_SESSIONS)
        lake.execute(f"DELETE FROM {ACTIVE_SESSIONS.name}")
        lake.execute(f"INSERT INTO {ACTIVE_SESSIONS.name} BY NAME {ACTIVE_SESSIONS_SQL}")

    write_transaction(connection, recompute, what=f"recomputing {ACTIVE_SESSIONS.name}")
    return count_of(connection, f"SELECT count(*) FROM {ACTIVE_SESSIONS.name}")
