"""The demo's story: its figures are those of the lake's rows, computed here again in Python.

The lakes are real DuckLake lakes, written as the assets write them; their rows are made
here, so the story never depends on what the simulator happens to generate.
"""

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from waap_sessions.story import (
    BlockedCountry,
    BusiestAttack,
    NotableSession,
    Story,
    read_story,
)
from waap_sessions.warehouse import (
    ACCESSWATCH_SESSIONS,
    GCORE_REQUESTS,
    append,
    arrow_rows,
    connect,
)
from waap_sessions_tests.conftest import lake_settings

DAY = date(2026, 11, 20)
DOMAINS = {1: "shop.example", 2: "api.example", 3: "blog.example", 4: "cdn.example"}
WORST_FIRST = ["bad", "suspicious", "ok", "nice"]


def request(
    when: datetime,
    *,
    domain_id: int = 1,
    session_id: str = "",
    ip: str = "192.0.2.200",
    country: str = "US",
    organization: str = "Example ISP",
    client: str = "Chrome",
    decision: str = "passed",
    rule_name: str = "",
    action: str = "",
) -> dict[str, Any]:
    """One gcore_requests row; the columns the story does not read are plausible constants."""
    blocked = decision == "blocked"
    return {
        "id": f"{random.getrandbits(128):032x}-{random.randrange(1_000_000):06d}",
        "day": when.date(),
        "domain_id": domain_id,
        "domain": DOMAINS[domain_id],
        "request_time": when,
        "session_id": session_id,
        "client_ip": ip,
        "country": country,
        "organization": organization,
        "method": "GET",
        "path": "/",
        "scheme": "https",
        "http_version": "1.1",
        "status_code": 403 if blocked else 200,
        "decision": decision,
        "optional_action": "",
        "result": {"blocked": "blocked", "monitored": "suppressed"}.get(decision, "passed"),
        "action": action,
        "rule_id": f"R{sum(map(ord, rule_name))}" if rule_name else "",
        "rule_name": rule_name,
        "reference_id": f"{random.getrandbits(128):032x}" if blocked else "",
        "traffic_types": "",
        "user_agent": f"{client}/1.0",
        "user_agent_client": client,
        "ja3": "",
        "policy_override": None,
        "loaded_at": datetime(2026, 11, 22, tzinfo=UTC),
    }


def reputation(snapshot_at: datetime, session_id: str, ip: str, status: str) -> dict[str, Any]:
    """One accesswatch_sessions row, with the columns the story does not read left empty."""
    row: dict[str, Any] = dict.fromkeys(ACCESSWATCH_SESSIONS.column_names)
    return row | {
        "snapshot_at": snapshot_at,
        "session_id": session_id,
        "requests": 1,
        "identity_id": session_id,
        "ip": ip,
        "reputation_status": status,
    }


def write_lake(folder: Path, requests: list[dict[str, Any]], snapshots: list[dict[str, Any]]):
    """A lake holding exactly these rows, each table written in one transaction."""
    with connect(read_only=False, settings=lake_settings(folder)) as lake:
        for table, rows in ((GCORE_REQUESTS, requests), (ACCESSWATCH_SESSIONS, snapshots)):
            if rows:
                columns = {name: [row[name] for row in rows] for name in table.column_names}
                append(lake, table, arrow_rows(table, columns))


def story_of(folder: Path, time_zone: str = "UTC") -> Story:
    """The story as a reader in `time_zone` reads it."""
    with connect(read_only=True, settings=lake_settings(folder)) as lake:
        lake.execute(f"SET TimeZone = '{time_zone}'")
        return read_story(lake)


# A lake with exactly one right answer to each question


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def hand_made_requests() -> list[dict[str, Any]]:
    """SQL injection is the busiest attack by one detection over XSS, which an allow rule
    outnumbers; CN has the most blocked requests; three sessions have detections."""
    sqlmap = {"session_id": "a" * 32, "ip": "198.51.100.7", "country": "CN"}
    sqlmap |= {"organization": "Evil Hosting", "client": "sqlmap"}
    scanner = {"session_id": "b" * 32, "ip": "192.0.2.1", "country": "CN"}
    scanner |= {"organization": "Evil Hosting", "client": "python-requests"}
    curl = {"session_id": "c" * 32, "ip": "203.0.113.5", "country": "RU"}
    curl |= {"organization": "Bad Net", "client": "curl", "domain_id": 2}
    googlebot = {"session_id": "d" * 32, "ip": "66.249.66.1", "client": "Googlebot"}
    sqli = {"rule_name": "SQL injection", "action": "block"}
    blocked, monitored = {"decision": "blocked"}, {"decision": "monitored"}
    return [
        # SQL injection: 4 blocked on shop.example, 3 of them in the hour from 03:00 ...
        *(request(at(20, 3, minute), **sqlmap, **sqli, **blocked) for minute in (10, 20, 40)),
        request(at(20, 4, 5), **sqlmap, **sqli, **blocked),
        # ... the same session once more from another IP, passed ...
        request(at(20, 4, 6), **sqlmap | {"ip": "198.51.100.8"}),
        # ... and 2 only monitored on api.example (monitor mode), from RU.
        request(at(21, 10), **curl, **sqli, **monitored),
        request(at(21, 10, 30), **curl, **sqli, **monitored),
        # XSS: 5 detections, all blocked, in one session.
        *(
            request(at(21, 1, minute), **scanner, rule_name="XSS", action="block", **blocked)
            for minute in range(5)
        ),
        # An allow rule's requests outnumber both, and are no attack, even where monitor
        # mode (api.example) logs them as monitored.
        *(
            request(
                at(20, 6, minute),
                **googlebot,
                domain_id=1 + minute % 2,
                rule_name="Allow verified search engines",
                action="allow",
                decision="monitored" if minute % 2 else "allowed",
            )
            for minute in range(20)
        ),
        # A request blocked by no rule counts for its country, not for an attack.
        request(at(21, 12), decision="blocked"),
        # Ordinary traffic: 30 from the US, 5 from CN, 3 from RU.
        *(request(at(20, 12, minute), session_id="e" * 32) for minute in range(30)),
        *(request(at(21, 8, minute), country="CN", session_id="f" * 32) for minute in range(5)),
        *(request(at(21, 9, minute), country="RU", domain_id=2) for minute in range(3)),
    ]


def hand_made_snapshots() -> list[dict[str, Any]]:
    """The XSS scanner's IP was nice, then is ok and suspicious in two sessions; the curl IP
    is bad in the older snapshot only; the sqlmap IP is in none."""
    older, newer = at(21, 11), at(21, 13)
    return [
        reputation(older, "aw1", "192.0.2.1", "nice"),
        reputation(older, "aw2", "203.0.113.5", "bad"),
        reputation(newer, "aw3", "192.0.2.1", "ok"),
        reputation(newer, "aw4", "192.0.2.1", "suspicious"),
        reputation(newer, "aw5", "66.249.66.1", "nice"),
    ]


HAND_MADE_STORY = [
    "What the data shows: 71 requests on 2 domains, 2026-11-20 to 2026-11-21 (UTC days)",
    '  Busiest attack: "SQL injection", 6 detections: 4 blocked, 2 only monitored',
    "    on shop.example (4), api.example (2)",
    "    from 2 IPs in 2 countries; peak hour 2026-11-20 03:00 UTC (3 detections)",
    "  Most blocked country: CN, 9 blocked requests, 60.0% of its 15 (all countries: 14.1%)",
    "  Sessions worth a look (the most detections):",
    f"    1. {'b' * 32} from 192.0.2.1 (CN, Evil Hosting), python-requests",
    "       5 of its 5 requests detected, 5 blocked, mostly XSS; Access Watch: suspicious",
    f"    2. {'a' * 32} from 198.51.100.7 (CN, Evil Hosting), sqlmap",
    "       4 of its 5 requests detected, 4 blocked, mostly SQL injection",
    f"    3. {'c' * 32} from 203.0.113.5 (RU, Bad Net), curl",
    "       2 of its 2 requests detected, 0 blocked, mostly SQL injection; Access Watch: bad",
]


def test_the_story_of_a_lake_with_one_right_answer(tmp_path):
    write_lake(tmp_path, hand_made_requests(), hand_made_snapshots())

    # Read in a time zone 5:30 from UTC: the peak hour is still a UTC hour.
    story = story_of(tmp_path, time_zone="Asia/Kolkata")

    assert story.lines() == HAND_MADE_STORY


def test_an_empty_lake_says_so_in_one_line(tmp_path):
    write_lake(tmp_path, [], [])

    story = story_of(tmp_path)

    assert story == Story(0, 0, None, None, None, None, ())
    assert story.lines() == ["What the data shows: no Gcore requests are loaded, so nothing yet."]


def test_traffic_without_attacks_says_so_in_one_line(tmp_path):
    """Allowed and passed requests only: no attack, no blocked country, no session."""
    rows = [
        r
        for r in hand_made_requests()
        if r["decision"] in ("passed", "allowed") or r["action"] == "allow"
    ]
    write_lake(tmp_path, rows, hand_made_snapshots())

    lines = story_of(tmp_path).lines()

    assert lines == [
        f"What the data shows: {len(rows)} requests on 2 domains, "
        "2026-11-20 to 2026-11-21 (UTC days)",
        f"  No attack: no rule blocked or monitored any of the {len(rows)}.",
    ]


# Random lakes, with ties: the story equals one computed from the rows in plain Python


def random_requests(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Rows drawn from small pools, so that ties (of rules, hours, countries, sessions and a
    session's identities) are common and must be broken as the story says."""
    random.seed(rng.random())  # the ids
    rules = [("SQL injection", "block"), ("XSS", "block"), ("Bots", "captcha"), ("Allow", "allow")]
    sessions = ["", *(f"{n:032x}" for n in range(1, 12))]
    rows = []
    for _ in range(count):
        rule_name, action = rng.choice([("", ""), *rules])
        if action == "allow":
            decision = rng.choice(["allowed", "monitored"])
        elif rule_name:
            decision = rng.choice(["blocked", "blocked", "monitored", "passed"])
        else:
            decision = rng.choice(["passed"] * 9 + ["blocked", ""])
        rows.append(
            request(
                datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(3 * 1440)),
                domain_id=rng.choice(list(DOMAINS)),
                session_id=rng.choice(sessions),
                ip=rng.choice(["192.0.2.1", "192.0.2.2", "2001:db8::1", "198.51.100.9"]),
                country=rng.choice(["US", "CN", "RU", "DE", ""]),
                organization=rng.choice(["Example ISP", "Evil Hosting"]),
                client=rng.choice(["Chrome", "sqlmap", "curl"]),
                decision=decision,
                rule_name=rule_name,
                action=action,
            )
        )
    return rows


def random_snapshots(rng: random.Random) -> list[dict[str, Any]]:
    return [
        reputation(
            datetime(2026, 11, 22, rng.randrange(3), tzinfo=UTC),
            f"aw{n}",
            rng.choice(["192.0.2.1", "192.0.2.2", "2001:db8::1", "203.0.113.1"]),
            rng.choice(WORST_FIRST),
        )
        for n in range(8)
    ]


def first_by(counts: Counter) -> tuple[Any, int]:
    """The most counted key, ties by the smallest key."""
    key = min(counts, key=lambda k: (-counts[k], k))
    return key, counts[key]


def expected_story(rows: list[dict[str, Any]], snapshots: list[dict[str, Any]]) -> Story:
    """The story, by its definitions, in plain Python over the rows."""
    if not rows:
        return Story(0, 0, None, None, None, None, ())
    detections = [
        r
        for r in rows
        if r["decision"] in ("blocked", "monitored") and r["rule_name"] and r["action"] != "allow"
    ]
    attack = None
    if detections:
        rule, count = first_by(Counter(r["rule_name"] for r in detections))
        of_rule = [r for r in detections if r["rule_name"] == rule]
        domains = Counter(r["domain"] for r in of_rule)
        hour, peak = first_by(
            Counter(r["request_time"].replace(minute=0, second=0) for r in of_rule)
        )
        attack = BusiestAttack(
            rule_name=rule,
            detections=count,
            blocked=sum(r["decision"] == "blocked" for r in of_rule),
            monitored=sum(r["decision"] == "monitored" for r in of_rule),
            domains=tuple(sorted(domains.items(), key=lambda item: (-item[1], item[0]))),
            peak_hour=hour,
            peak_detections=peak,
            client_ips=len({r["client_ip"] for r in of_rule}),
            countries=len({r["country"] for r in of_rule} - {""}),
        )
    blocked = Counter(r["country"] for r in rows if r["decision"] == "blocked" and r["country"])
    country = None
    if blocked:
        code, count = first_by(blocked)
        country = BlockedCountry(
            country=code,
            blocked=count,
            requests=sum(r["country"] == code for r in rows),
            all_blocked=sum(r["decision"] == "blocked" for r in rows),
            all_requests=len(rows),
        )
    latest: dict[str, tuple[datetime, int]] = {}
    for snapshot in snapshots:
        rank = (snapshot["snapshot_at"], -WORST_FIRST.index(snapshot["reputation_status"]))
        latest[snapshot["ip"]] = max(latest.get(snapshot["ip"], rank), rank)
    per_session = Counter(r["session_id"] for r in detections if r["session_id"])
    sessions = []
    for session_id, count in sorted(per_session.items(), key=lambda item: (-item[1], item[0]))[:3]:
        of_session = [r for r in rows if r["session_id"] == session_id]
        identity, _ = first_by(
            Counter(
                (r["client_ip"], r["country"], r["organization"], r["user_agent_client"])
                for r in of_session
            )
        )
        found = [r for r in detections if r["session_id"] == session_id]
        top_rule, _ = first_by(Counter(r["rule_name"] for r in found))
        seen = latest.get(identity[0])
        sessions.append(
            NotableSession(
                session_id,
                *identity,
                requests=len(of_session),
                detections=count,
                blocked=sum(r["decision"] == "blocked" for r in found),
                top_rule=top_rule,
                reputation=WORST_FIRST[-seen[1]] if seen else None,
            )
        )
    return Story(
        requests=len(rows),
        domains=len({r["domain_id"] for r in rows}),
        first_day=min(r["day"] for r in rows),
        last_day=max(r["day"] for r in rows),
        attack=attack,
        country=country,
        sessions=tuple(sessions),
    )


def test_the_story_of_a_random_lake_is_its_rows(tmp_path):
    rng = random.Random(1)
    rows, snapshots = random_requests(rng, 2500), random_snapshots(rng)
    write_lake(tmp_path, rows, snapshots)

    story = story_of(tmp_path)

    assert story == expected_story(rows, snapshots)
    assert story.attack is not None
    assert story.country is not None
    assert len(story.sessions) == 3
    lines = story.lines()
    assert f"{len(rows):,} requests on 4 domains" in lines[0]
    assert lines[2].endswith("and 1 more domain")


def ties(rows: list[dict[str, Any]]) -> set[str]:
    """Which of the story's choices the rows make between equals."""
    detections = [
        r
        for r in rows
        if r["decision"] in ("blocked", "monitored") and r["rule_name"] and r["action"] != "allow"
    ]
    found = set()
    rules = Counter(r["rule_name"] for r in detections).most_common(2)
    if len(rules) == 2 and rules[0][1] == rules[1][1]:
        found.add("busiest rule")
    blocked = Counter(r["country"] for r in rows if r["decision"] == "blocked").most_common(1)
    if blocked and blocked[0][0] == "":
        found.add("unknown country blocked most")
    busiest = Counter(r["session_id"] for r in detections if r["session_id"]).most_common(3)
    for session, _ in busiest:
        top = Counter(r["rule_name"] for r in detections if r["session_id"] == session)
        (_, most), *others = top.most_common()
        if most in dict(others).values():
            found.add("a session's top rule")
    return found


@pytest.mark.parametrize(("seed", "count"), [(3, 30), (7, 40)])
def test_small_random_lakes_break_ties_as_the_story_says(tmp_path, seed, count):
    rng = random.Random(seed)
    rows, snapshots = random_requests(rng, count), random_snapshots(rng)
    write_lake(tmp_path, rows, snapshots)

    story = story_of(tmp_path)

    assert ties(rows) == {"busiest rule", "unknown country blocked most", "a session's top rule"}
    assert story == expected_story(rows, snapshots)
