"""Asset checks: every table against its declaration in `warehouse`, and the rules BI relies on.

One step per table: all the checks of a table's asset are one `@multi_asset_check`, which
opens one read-only connection to the lake (it never waits for a writer and sees whole
partitions only) and evaluates every selected check on it. A step of its own per check
paid a step's overhead and a connection to the lake each time, more than most rules'
queries cost. The step can be subset: a run that selects some of the checks (one from the
UI, say) evaluates only those.

Partition-scoped: a run that loaded partitions judges those partitions only. Every rule
reads the partitioned tables through a `WITH` clause that cuts them to the run's
`(day, domain_id)` pairs, so a check costs what the run wrote, not what the table holds,
and a failure is one the run's partitions have. The other partitions were judged by the
runs that wrote them. A run without partitions (a check-only run, the snapshot tables)
judges whole tables: that is how to look for damage anywhere.

Some rules reach beyond the run's rows:
- `gcore_requests` is keyed by `id` alone, not by `(day, domain_id, id)`: Gcore gives each
  request one id, and a request belongs to one day of one domain. A request served in two
  day windows (one at midnight, say) would be in two partitions, each unique by itself. So
  the run's ids are looked up in the whole table (its `id` column only). Keys that contain
  the partition columns (`top_sessions`, `gcore_ip_top_sessions`) repeat within one
  partition or not at all.
- `top_sessions`' agreement with `gcore_requests` reads the same partitions of both: they
  share the partitions.
- The row counts read the run's partitions' rows of `waap_meta.partition_loads`.

Blocking checks guard the raw tables the summaries are computed from: when one fails, the
summaries downstream do not run in that run. The results name the partitions they judged
(`waap/partitions`, each with its domain's name), and the offending rows shown carry their
partition.
"""

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any

import dagster as dg

from waap_sessions.assets import LISTED_PARTITIONS
from waap_sessions.enumerations import (
    ACCESSWATCH_IDENTITY_TYPES,
    ACCESSWATCH_REPUTATION_STATUSES,
    APPGATE_SUPPORT_STATUSES,
    GCORE_DECISIONS,
    GCORE_OPTIONAL_ACTIONS,
    GCORE_RESULTS,
)
from waap_sessions.lake import LAKE
from waap_sessions.partitions import parse_partition_key
from waap_sessions.resources import WarehouseResource
from waap_sessions.sql import literal
from waap_sessions.summaries import TOP_SESSIONS_PER_DAY
from waap_sessions.warehouse import (
    ACCESSWATCH_SESSIONS,
    ACTIVE_SESSIONS,
    APPGATE_ACTIVE_SESSIONS,
    GCORE_IP_TOP_SESSIONS,
    GCORE_REQUESTS,
    PARTITION_LOADS,
    TABLES,
    TOP_SESSIONS,
    Table,
    count_of,
    domain_names,
)

# DuckDB loads with the first check that runs, not with the code location.
if TYPE_CHECKING:
    import duckdb

# Offending rows shown in a failed check's metadata: enough to recognise the problem.
EXAMPLES = 5

SCHEMA_CHECK = "columns_match_contract"
KEY_CHECK = "key_is_unique"
NOT_NULL_CHECK = "required_columns_not_null"

# Checks whose failure would poison the summaries computed from the table.
# active_sessions is materialized only by the automation sensor, and a run the sensor
# launches for an asset does not carry its checks: its checks therefore follow the table
# themselves, in the same run. Every other table is loaded by a job that runs its checks.
FOLLOWS_ITS_TABLE = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
)

BLOCKING: frozenset[tuple[str, str]] = frozenset(
    {
        (GCORE_REQUESTS.name, SCHEMA_CHECK),
        (GCORE_REQUESTS.name, KEY_CHECK),
        (GCORE_REQUESTS.name, NOT_NULL_CHECK),
        (ACCESSWATCH_SESSIONS.name, SCHEMA_CHECK),
        (APPGATE_ACTIVE_SESSIONS.name, SCHEMA_CHECK),
    }
)

# The name rules read waap_meta.partition_loads by (a `WITH` name cannot hold a schema).
LOADS = "partition_loads"
# Where each relation a rule reads lives, by the plain name the rules use.
SOURCES: dict[str, str] = {
    **{table.name: f"{LAKE}.main.{table.name}" for table in TABLES},
    LOADS: f"{LAKE}.{PARTITION_LOADS}",
}
# The relations cut to a run's partitions: those with a row per `(day, domain_id)`.
PARTITIONED = frozenset(
    {LOADS, *(table.name for table in TABLES if table.partition_by == ("day", "domain_id"))}
)


@dataclass(frozen=True)
class Scope:
    """What a check judges: the partitions its run loaded, or whole tables when there are
    none; and the names of the partitions' domains, for the metadata."""

    partitions: tuple[str, ...] = ()
    names: Mapping[int, str] = field(default_factory=dict)

    def query(self, sql: str, reads: Iterable[str]) -> str:
        """`sql` with each relation in `reads` (plain names) cut to the scope."""
        cut = self.partition_filter()
        relations = ", ".join(
            f"{name} AS (SELECT * FROM {SOURCES[name]}"
            + (f" WHERE {cut})" if cut and name in PARTITIONED else ")")
            for name in reads
        )
        return f"WITH {relations} SELECT * FROM ({sql})"

    def partition_filter(self) -> str:
        """A predicate on `day` and `domain_id` true for the scope's partitions alone.

        One term per domain and run of consecutive days, so a range of a hundred days
        stays one range, which the lake prunes its files by.
        """
        by_domain = sorted(
            (domain, day) for day, domain in map(parse_partition_key, self.partitions)
        )
        terms = []
        for domain, pairs in groupby(by_domain, key=lambda pair: pair[0]):
            days = [day for _, day in pairs]
            for first, last in consecutive_runs(days):
                when = (
                    f"day = {literal(first)}"
                    if first == last
                    else f"day BETWEEN {literal(first)} AND {literal(last)}"
                )
                terms.append(f"(domain_id = {literal(domain)} AND {when})")
        return " OR ".join(terms)

    def metadata(self) -> dict[str, Any]:
        """`waap/partitions`: each partition judged, with its domain's name."""
        if not self.partitions:
            return {}
        listed = [
            {"partition": key, "domain_name": self.names.get(parse_partition_key(key)[1])}
            for key in self.partitions[:LISTED_PARTITIONS]
        ]
        return {"waap/partitions": dg.MetadataValue.json(listed)}


def consecutive_runs(days: list[date]) -> Iterator[tuple[date, date]]:
    """The first and last day of each run of consecutive days in sorted `days`."""
    first = previous = days[0]
    for day in days[1:]:
        if day - previous > timedelta(days=1):
            yield first, previous
            first = day
        previous = day
    yield first, previous


def run_scope(
    context: dg.AssetCheckExecutionContext, table: Table, connection: "duckdb.DuckDBPyConnection"
) -> Scope:
    """The partitions of `table` the run loaded; none for an unpartitioned table or run."""
    if not table.partition_by or not (context.has_partition_key or context.has_partition_key_range):
        return Scope()
    return Scope(tuple(context.partition_keys), domain_names(connection))


Evaluation = Callable[["duckdb.DuckDBPyConnection", Scope], dg.AssetCheckResult]


@dataclass(frozen=True)
class Check:
    """One check of a table: its name and description in the UI, and how it is judged."""

    name: str
    description: str
    evaluate: Evaluation


@dataclass(frozen=True)
class Rule:
    """A check as a query: every row `sql` returns breaks the rule.

    `sql` reads the relations in `reads` (the rule's table unless told) by their plain
    names, cut to the run's partitions; `sql_in_partitions`, when set, replaces it in a run
    that has partitions.
    """

    table: Table
    name: str
    description: str
    sql: str
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
    reads: tuple[str, ...] = ()
    sql_in_partitions: str | None = None

    def query(self, scope: Scope) -> str:
        sql = self.sql_in_partitions if scope.partitions and self.sql_in_partitions else self.sql
        return scope.query(sql, self.reads or (self.table.name,))


def row_identity(table: Table) -> tuple[str, ...]:
    """The columns that tell a person which row it is: its key, then its partition."""
    return (*table.key, *(name for name in table.partition_by if name not in table.key))


def value_rule(table: Table, name: str, predicate: str, description: str) -> Rule:
    """A rule that `predicate` holds for every row; a NULL result breaks it too.

    The offending rows are shown by their key, partition and the columns the predicate reads.
    """
    identity = row_identity(table)
    read = [
        c for c in table.column_names if re.search(rf"\b{c}\b", predicate) and c not in identity
    ]
    shown = ", ".join((*identity, *read))
    sql = f"SELECT {shown} FROM {table.name} WHERE ({predicate}) IS NOT TRUE"
    return Rule(table, name, f"{description} (`{predicate}`)", sql)


def known_values_rule(table: Table, name: str, predicate: str, description: str) -> Rule:
    """A warning that a value is outside its documented enumeration.

    Such a value loads, counted as schema drift by the models (a vendor's new value should
    cost a warning, not the load); this check shows where it landed.
    """
    rule = value_rule(table, name, predicate, description)
    return replace(rule, severity=dg.AssetCheckSeverity.WARN)


def one_of(column: str, values: Iterable[str]) -> str:
    """`column IN ('a', 'b')`: the predicate of a documented enumeration."""
    return f"{column} IN ({', '.join(literal(value) for value in values)})"


HEX_32 = "regexp_full_match(session_id, '[0-9a-f]{32}')"

VALUE_RULES: tuple[Rule, ...] = (
    value_rule(
        GCORE_REQUESTS,
        "status_code_in_range",
        "status_code BETWEEN 100 AND 599",
        "HTTP status codes are 100 to 599.",
    ),
    known_values_rule(
        GCORE_REQUESTS,
        "decision_is_known",
        one_of("decision", GCORE_DECISIONS),
        "The WAAP decision is one Gcore documents.",
    ),
    known_values_rule(
        GCORE_REQUESTS,
        "optional_action_is_known",
        one_of("optional_action", GCORE_OPTIONAL_ACTIONS),
        "The optional action is one Gcore documents.",
    ),
    known_values_rule(
        GCORE_REQUESTS,
        "result_is_known",
        one_of("result", GCORE_RESULTS),
        "The result is one Gcore documents.",
    ),
    value_rule(
        GCORE_REQUESTS,
        "country_is_alpha2",
        "regexp_full_match(country, '[A-Z]{2}') OR country = ''",
        "Countries are ISO 3166-1 alpha-2 codes in upper case, or empty.",
    ),
    value_rule(
        GCORE_REQUESTS,
        "session_id_is_hex",
        f"{HEX_32} OR session_id = ''",
        "Session ids are 32 lower-case hex digits, or empty.",
    ),
    value_rule(
        GCORE_IP_TOP_SESSIONS,
        "session_id_is_hex",
        HEX_32,
        "Session ids are normalised to 32 lower-case hex digits.",
    ),
    value_rule(
        GCORE_IP_TOP_SESSIONS,
        "blocked_within_requests",
        "blocked <= requests",
        "A session cannot have more blocked requests than requests.",
    ),
    known_values_rule(
        ACCESSWATCH_SESSIONS,
        "reputation_status_is_known",
        one_of("reputation_status", ACCESSWATCH_REPUTATION_STATUSES),
        "The reputation status is one Access Watch documents.",
    ),
    known_values_rule(
        ACCESSWATCH_SESSIONS,
        "identity_type_is_known",
        f"{one_of('identity_type', ACCESSWATCH_IDENTITY_TYPES)} OR identity_type IS NULL",
        "The identity type is robot, browser or unknown.",
    ),
    known_values_rule(
        APPGATE_ACTIVE_SESSIONS,
        "support_status_is_known",
        "len(list_filter(by_version, lambda version: "
        f"NOT {one_of('version.support_status', APPGATE_SUPPORT_STATUSES)})) = 0",
        "Each client version's support status is full, partial, none or unknown.",
    ),
    value_rule(
        TOP_SESSIONS,
        "blocked_within_requests",
        "blocked <= requests",
        "A session cannot have more blocked requests than requests.",
    ),
    value_rule(
        ACTIVE_SESSIONS,
        "sessions_not_negative",
        "sessions >= 0",
        "Session counts are never negative.",
    ),
    value_rule(
        ACTIVE_SESSIONS,
        "source_is_known",
        "source IN ('appgate', 'accesswatch')",
        "Every row comes from one of the two snapshot sources.",
    ),
)

# Rules over whole partitions or tables, rather than one row at a time.
TABLE_RULES: tuple[Rule, ...] = (
    Rule(
        GCORE_REQUESTS,
        "row_count_matches_api",
        "Each partition holds as many rows as the API counted in exactly the window its load "
        "read ([start, end) with the end pinned; counted as the read ended, so requests that "
        "arrived while paging are in it, and less the rows the API counted outside the "
        f"window), recorded in {PARTITION_LOADS} in the load's own transaction. Partitions "
        "the API gave no total for are not compared.",
        f"""
        SELECT day, domain_id, api_reported_count, coalesce(loaded.rows, 0) AS rows_in_table
        FROM {LOADS}
        LEFT JOIN (SELECT day, domain_id, count(*) AS rows FROM {GCORE_REQUESTS.name} GROUP BY ALL)
            AS loaded USING (day, domain_id)
        WHERE table_name = '{GCORE_REQUESTS.name}' AND api_reported_count IS NOT NULL
            AND api_reported_count <> coalesce(loaded.rows, 0)
        """,
        reads=(LOADS, GCORE_REQUESTS.name),
    ),
    Rule(
        GCORE_REQUESTS,
        "past_partitions_not_empty",
        "A day that was over when it was loaded has at least one request: an empty one "
        "usually means a wrong domain or a broken API key scope, not a quiet day.",
        f"SELECT day, domain_id, loaded_at FROM {LOADS} "
        f"WHERE table_name = '{GCORE_REQUESTS.name}' AND row_count = 0 "
        "AND day < CAST(loaded_at AS DATE)",
        severity=dg.AssetCheckSeverity.WARN,
        reads=(LOADS,),
    ),
    Rule(
        TOP_SESSIONS,
        "at_most_10_per_day",
        f"At most {TOP_SESSIONS_PER_DAY} sessions per domain and day.",
        f"SELECT domain_id, day, count(*) AS sessions FROM top_sessions GROUP BY ALL "
        f"HAVING count(*) > {TOP_SESSIONS_PER_DAY}",
    ),
    Rule(
        TOP_SESSIONS,
        "ranks_without_gaps",
        "Each domain and day ranks its sessions 1, 2, ..., n.",
        "SELECT domain_id, day, list(rank ORDER BY rank) AS ranks FROM top_sessions GROUP BY ALL "
        "HAVING min(rank) <> 1 OR max(rank) <> count(*) OR count(DISTINCT rank) <> count(*)",
    ),
    Rule(
        TOP_SESSIONS,
        "requests_never_increase_with_rank",
        "A session never has more requests than the one ranked above it.",
        """
        SELECT domain_id, day, rank, requests, requests_ranked_above FROM (
            SELECT *, lag(requests) OVER (PARTITION BY domain_id, day ORDER BY rank)
                AS requests_ranked_above
            FROM top_sessions
        )
        WHERE requests > requests_ranked_above
        """,
    ),
    Rule(
        TOP_SESSIONS,
        "agrees_with_gcore_requests",
        "Each session's requests, blocked, first and last request time match gcore_requests.",
        """
        WITH recomputed AS (
            SELECT
                domain_id, day, session_id,
                count(*) AS requests,
                count(*) FILTER (WHERE decision = 'blocked') AS blocked,
                min(request_time) AS first_request_at,
                max(request_time) AS last_request_at
            FROM gcore_requests
            JOIN (SELECT domain_id, day, session_id FROM top_sessions)
                USING (domain_id, day, session_id)
            GROUP BY ALL
        )
        SELECT
            top.domain_id, top.day, top.rank, top.session_id,
            top.requests, gcore.requests AS gcore_requests,
            top.blocked, gcore.blocked AS gcore_blocked,
            top.first_request_at, gcore.first_request_at AS gcore_first_request_at,
            top.last_request_at, gcore.last_request_at AS gcore_last_request_at
        FROM top_sessions AS top
        LEFT JOIN recomputed AS gcore USING (domain_id, day, session_id)
        WHERE top.requests IS DISTINCT FROM gcore.requests
            OR top.blocked IS DISTINCT FROM gcore.blocked
            OR top.first_request_at IS DISTINCT FROM gcore.first_request_at
            OR top.last_request_at IS DISTINCT FROM gcore.last_request_at
        """,
        reads=(TOP_SESSIONS.name, GCORE_REQUESTS.name),
    ),
)


# Rows whose keys one query of the key check compares. Its hash tables hold about 40 MB
# then (gcore_requests, measured): a larger scope is checked in several passes, each over
# the keys whose hash falls in one bucket, so its memory does not grow with the partition.
KEYS_PER_PASS = 125_000


def key_rules(connection: "duckdb.DuckDBPyConnection", table: Table, scope: Scope) -> list[Rule]:
    """The key check's queries for `scope`: one per pass of at most KEYS_PER_PASS rows."""
    rows = count_of(connection, scope.query(f"SELECT count(*) FROM {table.name}", (table.name,)))
    passes = max(1, math.ceil(rows / KEYS_PER_PASS))
    return [key_rule(table, passes, bucket) for bucket in range(passes)]


def key_rule(table: Table, passes: int = 1, bucket: int = 0) -> Rule:
    """Uniqueness of the declared key: DuckDB does not enforce it (see warehouse.py).

    A key without the partition columns is unique across partitions: the run's keys are
    looked up in the whole table, and each repeated key lists the partitions holding it.
    With several `passes`, the rule covers the keys whose hash is `bucket` modulo `passes`.
    """
    key = ", ".join(table.key)
    description = f"No two rows share the key ({key})."
    # Keys are compared by their 64-bit hash first: 8 bytes a row, where the keys
    # themselves took 300 MB for a 1,000,000-row partition. Only rows whose hash repeats
    # are grouped by the key, so a collision of hashes alone is no repeat.
    hashed = f"hash({key})"
    in_bucket = f"{hashed} % {passes} = {bucket}"
    if set(table.partition_by) <= set(table.key):
        sql = (
            f"SELECT {key}, count(*) AS copies FROM {table.name} WHERE {in_bucket} "
            "GROUP BY ALL HAVING count(*) > 1"
        )
        return Rule(table, KEY_CHECK, description, sql)
    partition = f"concat_ws('|', {', '.join(table.partition_by)})"

    def repeated(rows: str) -> str:
        return (
            f"SELECT {key}, count(*) AS copies, "
            f"list(DISTINCT {partition} ORDER BY {partition}) AS partitions FROM {rows} "
            f"WHERE {hashed} IN (SELECT {hashed} FROM {rows} GROUP BY ALL HAVING count(*) > 1) "
            "GROUP BY ALL HAVING count(*) > 1"
        )

    return Rule(
        table,
        KEY_CHECK,
        description,
        repeated(f"(SELECT * FROM {table.name} WHERE {in_bucket})"),
        sql_in_partitions=repeated(
            f"(SELECT * FROM {SOURCES[table.name]} WHERE {in_bucket} "
            f"AND {hashed} IN (SELECT {hashed} FROM {table.name} WHERE {in_bucket}))"
        ),
    )


def failure_examples(
    connection: "duckdb.DuckDBPyConnection", sql: str
) -> tuple[int, list[dict[str, Any]]]:
    """How many rows `sql` returns, and the first few of them, ready for JSON metadata."""
    rows = connection.execute(
        f"SELECT *, count(*) OVER () AS total_rows FROM ({sql}) LIMIT {EXAMPLES}"
    ).fetchall()
    names = [column[0] for column in connection.description or ()]
    examples = [dict(zip(names[:-1], row[:-1], strict=True)) for row in rows]
    return (rows[0][-1] if rows else 0), json.loads(json.dumps(examples, default=str))


def rule_result(
    connection: "duckdb.DuckDBPyConnection", rules: Sequence[Rule], scope: Scope
) -> dg.AssetCheckResult:
    """How many rows of the scope break `rules` (one rule, or the passes of one), with a
    few of them to act on."""
    violations, examples = 0, list[dict[str, Any]]()
    for rule in rules:
        found, shown = failure_examples(connection, rule.query(scope))
        violations += found
        examples += shown[: EXAMPLES - len(examples)]
    return dg.AssetCheckResult(
        passed=violations == 0,
        severity=rules[0].severity,
        metadata={"violations": violations, "examples": dg.MetadataValue.json(examples)},
    )


def schema_result(connection: "duckdb.DuckDBPyConnection", table: Table) -> dg.AssetCheckResult:
    """Columns in the declared order with the declared types, as DuckDB itself spells them."""
    found = dict(
        connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema() "
            f"AND table_name = {literal(table.name)} ORDER BY ordinal_position"
        ).fetchall()
    )
    spelled = connection.execute(
        "SELECT " + ", ".join(f"typeof(NULL::{column.type})" for column in table.columns)
    ).fetchone()
    declared = dict(zip(table.column_names, spelled or (), strict=True))
    wrong_types = {
        name: {"declared": kind, "found": found[name]}
        for name, kind in declared.items()
        if name in found and found[name] != kind
    }
    return dg.AssetCheckResult(
        passed=list(found.items()) == list(declared.items()),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "table_found": bool(found),
            "missing_columns": [name for name in declared if name not in found],
            "unexpected_columns": [name for name in found if name not in declared],
            "wrong_types": dg.MetadataValue.json(wrong_types),
            "order_matches": [n for n in found if n in declared]
            == [n for n in declared if n in found],
        },
    )


def not_null_result(
    connection: "duckdb.DuckDBPyConnection", table: Table, scope: Scope
) -> dg.AssetCheckResult:
    """NULL counts per required column, and a few offending rows by key."""
    required = table.required_columns
    counts = connection.execute(
        scope.query(
            "SELECT "
            + ", ".join(f"count(*) FILTER (WHERE {name} IS NULL)" for name in required)
            + f" FROM {table.name}",
            (table.name,),
        )
    ).fetchone()
    nulls = {name: n for name, n in zip(required, counts or (), strict=True) if n}
    examples: list[dict[str, Any]] = []
    if nulls:
        # concat_ws skips NULLs: it lists just the columns that are NULL in the row.
        names = ", ".join(f"CASE WHEN {name} IS NULL THEN '{name}' END" for name in nulls)
        any_null = " OR ".join(f"{name} IS NULL" for name in nulls)
        sql = (
            f"SELECT {', '.join(row_identity(table))}, concat_ws(', ', {names}) AS null_columns "
            f"FROM {table.name} WHERE {any_null}"
        )
        _, examples = failure_examples(connection, scope.query(sql, (table.name,)))
    return dg.AssetCheckResult(
        passed=not nulls,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "null_counts": dg.MetadataValue.json(nulls),
            "examples": dg.MetadataValue.json(examples),
        },
    )


def unrunnable_result(error: "duckdb.Error") -> dg.AssetCheckResult:
    """A check whose query does not fit the table (a column or table missing): failed.

    DuckDB's message names the column or table, and holds no value of any row.
    """
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"error": str(error).splitlines()[0]},
    )


def rule_check(rule: Rule) -> Check:
    """The check that fails when `rule`'s query finds any row."""
    return Check(
        rule.name,
        rule.description,
        lambda connection, scope: rule_result(connection, [rule], scope),
    )


def contract_checks(table: Table) -> list[Check]:
    """The checks every table gets from its declaration: schema, key and required columns."""
    return [
        Check(
            SCHEMA_CHECK,
            "The columns, their order and DuckDB types match the declaration in warehouse.py.",
            lambda connection, _: schema_result(connection, table),
        ),
        Check(
            KEY_CHECK,
            key_rule(table).description,
            lambda connection, scope: rule_result(
                connection, key_rules(connection, table, scope), scope
            ),
        ),
        Check(
            NOT_NULL_CHECK,
            f"No NULL in the required columns: {', '.join(table.required_columns)}.",
            lambda connection, scope: not_null_result(connection, table, scope),
        ),
    ]


RULES: tuple[Rule, ...] = (*VALUE_RULES, *TABLE_RULES)


def table_checks(key: dg.AssetKey, table: Table) -> dg.AssetChecksDefinition:
    """Every check of `table`'s asset `key`, in one step on one read-only connection.

    A rule whose query cannot run on the table as it is (a column missing: the schema
    check says so) fails alone, and the other checks still report.
    """
    checks = [*contract_checks(table), *(rule_check(r) for r in RULES if r.table is table)]
    specs = [
        dg.AssetCheckSpec(
            check.name,
            asset=key,
            description=check.description,
            blocking=(table.name, check.name) in BLOCKING,
            automation_condition=FOLLOWS_ITS_TABLE if table is ACTIVE_SESSIONS else None,
        )
        for check in checks
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{key.to_python_identifier()}_checks",
        description=f"The checks of {key.to_user_string()}, on one read-only connection.",
        can_subset=True,
    )
    def evaluate(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        import duckdb

        selected = {check_key.name for check_key in context.selected_asset_check_keys}
        with warehouse.read_only_connection() as connection:
            scope = run_scope(context, table, connection)
            for check in checks:
                if check.name not in selected:
                    continue
                try:
                    result = check.evaluate(connection, scope)
                except (duckdb.BinderException, duckdb.CatalogException) as error:
                    result = unrunnable_result(error)
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=check.name,
                    passed=result.passed,
                    severity=result.severity,
                    metadata={**result.metadata, **scope.metadata()},
                )

    return evaluate


def build_checks(asset_keys: Mapping[str, dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """The checks of every table in `asset_keys` (table name -> its asset's key), one
    definition (and step) per table."""
    return [
        table_checks(asset_keys[table.name], table) for table in TABLES if table.name in asset_keys
    ]
