"""What the loaded data shows, in a few lines: the demo's last word to a security analyst.

Plain SQL over the warehouse, so it tells the same story of a real account's lake as of
the simulator's. A detection is a request a rule blocked or monitored (allow rules and
requests without a rule left out): monitor mode changes the decision, not the detection.
Every figure is computed in one read transaction, so they all describe one lake snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from waap_sessions.sql import SqlValue, literal
from waap_sessions.warehouse import ACCESSWATCH_SESSIONS, GCORE_REQUESTS

if TYPE_CHECKING:
    import duckdb

SESSIONS_WORTH_A_LOOK = 3
DOMAINS_NAMED = 3
DETECTIONS = f"""
SELECT * FROM {GCORE_REQUESTS.name}
WHERE decision IN ('blocked', 'monitored') AND rule_name <> '' AND action <> 'allow'
"""
# Access Watch's statuses, worst first: an IP with several sessions shows its worst.
REPUTATIONS: list[SqlValue] = ["bad", "suspicious", "ok", "nice"]


@dataclass(frozen=True)
class BusiestAttack:
    """The rule with the most detections, and where, when and from whom they came."""

    rule_name: str
    detections: int
    blocked: int
    monitored: int
    # (domain, detections), most first.
    domains: tuple[tuple[str, int], ...]
    peak_hour: datetime
    peak_detections: int
    client_ips: int
    countries: int


@dataclass(frozen=True)
class BlockedCountry:
    """The country with the most blocked requests, beside the block rate of all traffic."""

    country: str
    blocked: int
    requests: int
    all_blocked: int
    all_requests: int


@dataclass(frozen=True)
class NotableSession:
    """A session with many detections: who it looks like, and what it did."""

    session_id: str
    client_ip: str
    country: str
    organization: str
    user_agent_client: str
    requests: int
    detections: int
    blocked: int
    top_rule: str
    # Access Watch's status of the IP in its latest snapshot that lists it; None if none does.
    reputation: str | None


@dataclass(frozen=True)
class Story:
    """The figures behind the story's lines."""

    requests: int
    domains: int
    first_day: date | None
    last_day: date | None
    attack: BusiestAttack | None
    country: BlockedCountry | None
    sessions: tuple[NotableSession, ...]

    def lines(self) -> list[str]:
        """The story, a few short lines; one when there is nothing to tell."""
        if not self.requests:
            return ["What the data shows: no Gcore requests are loaded, so nothing yet."]
        lines = [
            f"What the data shows: {_count(self.requests, 'request')} on "
            f"{_count(self.domains, 'domain')}, {self.first_day} to {self.last_day} (UTC days)"
        ]
        if (attack := self.attack) is None:
            lines.append(f"  No attack: no rule blocked or monitored any of the {self.requests:,}.")
        else:
            lines += [
                f'  Busiest attack: "{attack.rule_name}", {_count(attack.detections, "detection")}:'
                f" {attack.blocked:,} blocked, {attack.monitored:,} only monitored",
                f"    on {_domains(attack.domains)}",
                f"    from {_count(attack.client_ips, 'IP')} in "
                f"{_count(attack.countries, 'country', 'countries')}; peak hour "
                f"{attack.peak_hour:%Y-%m-%d %H:00} UTC "
                f"({_count(attack.peak_detections, 'detection')})",
            ]
        if (country := self.country) is not None:
            lines.append(
                f"  Most blocked country: {country.country}, {country.blocked:,} blocked "
                f"requests, {country.blocked / country.requests:.1%} of its {country.requests:,} "
                f"(all countries: {country.all_blocked / country.all_requests:.1%})"
            )
        if self.sessions:
            lines.append("  Sessions worth a look (the most detections):")
        for rank, session in enumerate(self.sessions, start=1):
            seen = f"; Access Watch: {session.reputation}" if session.reputation else ""
            lines += [
                f"    {rank}. {session.session_id} from {session.client_ip} ({session.country}, "
                f"{session.organization}), {session.user_agent_client}",
                f"       {session.detections:,} of its {_count(session.requests, 'request')} "
                f"detected, {session.blocked:,} blocked, mostly {session.top_rule}{seen}",
            ]
        return lines


def _count(number: int, singular: str, plural: str | None = None) -> str:
    """`number` with thousands separators and the word that fits it: "1 IP", "1,234 IPs"."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def _domains(domains: tuple[tuple[str, int], ...]) -> str:
    named = ", ".join(f"{domain} ({count:,})" for domain, count in domains[:DOMAINS_NAMED])
    more = len(domains) - DOMAINS_NAMED
    return named + (f" and {_count(more, 'more domain')}" if more > 0 else "")


def read_story(connection: duckdb.DuckDBPyConnection) -> Story:
    """The story of the lake `connection` reads (`waap_sessions.connect()`), from one snapshot."""
    connection.begin()
    try:
        return _read(connection)
    finally:
        connection.rollback()


def _read(connection: duckdb.DuckDBPyConnection) -> Story:
    tables = {
        name
        for (name,) in connection.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    }
    if GCORE_REQUESTS.name not in tables:
        return Story(0, 0, None, None, None, None, ())
    row = connection.execute(
        f"SELECT count(*), count(DISTINCT domain_id), min(day), max(day) FROM {GCORE_REQUESTS.name}"
    ).fetchone()
    assert row is not None
    requests, domains, first_day, last_day = row
    return Story(
        requests=requests,
        domains=domains,
        first_day=first_day,
        last_day=last_day,
        attack=_busiest_attack(connection),
        country=_most_blocked_country(connection),
        sessions=_notable_sessions(connection, with_reputation=ACCESSWATCH_SESSIONS.name in tables),
    )


def _busiest_attack(connection: duckdb.DuckDBPyConnection) -> BusiestAttack | None:
    """The rule with the most detections (ties by name) and its figures."""
    row = connection.execute(
        f"""
        SELECT rule_name, count(*) AS detections,
               count(*) FILTER (WHERE decision = 'blocked'),
               count(*) FILTER (WHERE decision = 'monitored'),
               count(DISTINCT client_ip), count(DISTINCT nullif(country, ''))
        FROM ({DETECTIONS}) GROUP BY rule_name ORDER BY detections DESC, rule_name LIMIT 1
        """
    ).fetchone()
    if row is None:
        return None
    rule_name, detections, blocked, monitored, client_ips, countries = row
    of_rule = f"FROM ({DETECTIONS}) WHERE rule_name = {literal(rule_name)}"
    domains = connection.execute(
        f"SELECT domain, count(*) AS n {of_rule} GROUP BY domain ORDER BY n DESC, domain"
    ).fetchall()
    # Hours counted from the epoch: the same UTC hours whatever the session's time zone.
    peak = connection.execute(
        f"SELECT epoch_ms(request_time) // 3600000 AS hour, count(*) AS n {of_rule} "
        "GROUP BY hour ORDER BY n DESC, hour LIMIT 1"
    ).fetchone()
    assert peak is not None
    return BusiestAttack(
        rule_name=rule_name,
        detections=detections,
        blocked=blocked,
        monitored=monitored,
        domains=tuple((domain, count) for domain, count in domains),
        peak_hour=datetime.fromtimestamp(peak[0] * 3600, UTC),
        peak_detections=peak[1],
        client_ips=client_ips,
        countries=countries,
    )


def _most_blocked_country(connection: duckdb.DuckDBPyConnection) -> BlockedCountry | None:
    """The known country with the most blocked requests (ties by code); None if none was."""
    row = connection.execute(
        f"""
        WITH per_country AS (
            SELECT country, count(*) FILTER (WHERE decision = 'blocked') AS blocked,
                   count(*) AS requests
            FROM {GCORE_REQUESTS.name} GROUP BY country
        )
        SELECT country, blocked, requests,
               (SELECT sum(blocked) FROM per_country), (SELECT sum(requests) FROM per_country)
        FROM per_country WHERE country <> '' AND blocked > 0
        ORDER BY blocked DESC, country LIMIT 1
        """
    ).fetchone()
    return BlockedCountry(*(row[0], *(int(value) for value in row[1:]))) if row else None


def _notable_sessions(
    connection: duckdb.DuckDBPyConnection, *, with_reputation: bool
) -> tuple[NotableSession, ...]:
    """The sessions with the most detections (ties by id), each as its requests show it most.

    A session's IP, country, organization and client are those of most of its requests,
    taken together, so the organization is the IP's. The reputation is matched by IP,
    which Access Watch and Gcore share (their session ids are their own).
    """
    rows = connection.execute(
        f"""
        WITH ranked AS (
            SELECT session_id, count(*) AS detections,
                   count(*) FILTER (WHERE decision = 'blocked') AS blocked
            FROM ({DETECTIONS}) WHERE session_id <> ''
            GROUP BY session_id ORDER BY detections DESC, session_id
            LIMIT {SESSIONS_WORTH_A_LOOK}
        ),
        rules AS (
            SELECT session_id, rule_name, count(*) AS n
            FROM ({DETECTIONS}) WHERE session_id IN (SELECT session_id FROM ranked)
            GROUP BY session_id, rule_name
            QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY n DESC, rule_name) = 1
        ),
        identities AS (
            SELECT session_id, client_ip, country, organization, user_agent_client,
                   sum(count(*)) OVER (PARTITION BY session_id) AS requests, count(*) AS n
            FROM {GCORE_REQUESTS.name} WHERE session_id IN (SELECT session_id FROM ranked)
            GROUP BY session_id, client_ip, country, organization, user_agent_client
            QUALIFY row_number() OVER (
                PARTITION BY session_id
                ORDER BY n DESC, client_ip, country, organization, user_agent_client
            ) = 1
        )
        SELECT session_id, client_ip, country, organization, user_agent_client, requests,
               detections, blocked, rules.rule_name
        FROM ranked JOIN identities USING (session_id) JOIN rules USING (session_id)
        ORDER BY detections DESC, session_id
        """
    ).fetchall()
    reputations = _reputations(connection, [row[1] for row in rows]) if with_reputation else {}
    return tuple(
        NotableSession(
            session_id=session_id,
            client_ip=ip,
            country=country,
            organization=org,
            user_agent_client=client,
            requests=int(requests),
            detections=detections,
            blocked=blocked,
            top_rule=rule,
            reputation=reputations.get(ip),
        )
        for session_id, ip, country, org, client, requests, detections, blocked, rule in rows
    )


def _reputations(connection: duckdb.DuckDBPyConnection, ips: list[SqlValue]) -> dict[str, str]:
    """Each IP's Access Watch status in the latest snapshot listing it, the worst if several."""
    if not ips:
        return {}
    rows = connection.execute(
        f"""
        SELECT ip, reputation_status FROM {ACCESSWATCH_SESSIONS.name}
        WHERE list_contains({literal(ips)}, ip)
        QUALIFY row_number() OVER (
            PARTITION BY ip
            ORDER BY snapshot_at DESC,
                     coalesce(list_position({literal(REPUTATIONS)}, reputation_status), 99)
        ) = 1
        """
    ).fetchall()
    return dict(rows)
