"""The one deterministic traffic data set behind all four simulated APIs.

Traffic is generated session by session: a session has a kind (browser, crawler, tool,
attacker), a client, an address and a heavy-tailed (Pareto) number of requests spread
over its duration. Each request then gets a decision from its session's kind, so blocked
requests concentrate in bot and attack sessions, as on a real firewall.

Everything derives from `SimulatorConfig.seed` through local `random.Random` instances
(string seeds hash with SHA-512, independent of PYTHONHASHSEED), so one config always
gives byte-identical data.

Times are UNIX milliseconds. The requests of a domain are kept sorted ascending by
`(request_time, id)`; new arrivals are stamped at the simulated now, which never goes
back, so appending keeps that order.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import math
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from waap_sessions.simulator import catalog
from waap_sessions.simulator.catalog import Client, Country, Rule, SessionKind
from waap_sessions.simulator.config import SimulatorConfig

DAY_MS = 86_400_000

_DOMAIN_NAMES = (
    "shop.example.com",
    "api.example.com",
    "blog.example.org",
    "www.example.net",
    "portal.example.io",
    "pay.example.com",
    "cdn.example.org",
    "login.example.net",
)
# Share of sessions, scale of the Pareto size and seconds between requests, per kind.
_KIND_WEIGHTS: dict[SessionKind, float] = {
    "browser": 0.75,
    "crawler": 0.07,
    "tool": 0.09,
    "attacker": 0.09,
}
_KIND_SIZE_SCALE: dict[SessionKind, float] = {
    "browser": 3.0,
    "crawler": 4.0,
    "tool": 3.0,
    "attacker": 3.0,
}
_KIND_GAP_S: dict[SessionKind, float] = {
    "browser": 20.0,
    "crawler": 6.0,
    "tool": 1.5,
    "attacker": 0.8,
}
_PARETO_ALPHA = 1.2
_IPV6_SHARE = 0.15
_NAT_GATEWAY_SHARE = 0.25  # browser sessions behind a shared corporate or carrier NAT
_CRAWLER_NETWORKS = {
    "Googlebot": ("66.249.66.", "Google LLC", 15169, "googlebot.com"),
    "bingbot": ("40.77.167.", "Microsoft Corporation", 8075, "search.msn.com"),
    "OpenAI GPTBot": ("20.171.207.", "Microsoft Corporation", 8075, "openai.com"),
    "Uptimerobot": ("69.162.124.", "Limestone Networks, Inc.", 46475, "uptimerobot.com"),
}


def iso_utc(ms: int) -> str:
    """UNIX milliseconds as ISO 8601 UTC with millisecond precision, e.g. `...T12:00:00.000Z`."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ms(moment: datetime) -> int:
    """An aware datetime as UNIX milliseconds."""
    return math.floor(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Domain:
    """A protected Gcore domain of the simulated account."""

    id: int
    name: str
    status: str
    created_at: datetime
    custom_page_set: int | None

    def summary(self) -> dict[str, Any]:
        """The domain as Gcore's `SummaryDomainResponse`."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "custom_page_set": self.custom_page_set,
            "created_at": self.created_at.isoformat(),
            "aliases": [],
        }


@dataclass(frozen=True)
class Address:
    """A client IP with what the networks know about it (Access Watch's address object)."""

    ip: str
    country: Country
    organization: str
    asn: int
    hostname: str
    flags: tuple[str, ...]


@dataclass
class Session:
    """One visitor's session on one domain; `id` is "" for requests the WAAP left unsessioned."""

    id: str
    domain: Domain
    kind: SessionKind
    client: Client
    address: Address
    hostile: bool  # tools: whether the bot protection catches it
    attack_rule: Rule
    scheme: str
    http_version: str
    records: list[RequestRecord] = field(default_factory=list)


@dataclass
class RequestRecord:
    """One request: `summary` holds exactly the RequestSummary fields Gcore serves.

    `tags` (and the session's client device and JA4) are hidden attributes: the analytics
    filters use them, the RequestSummary does not carry them.
    """

    summary: dict[str, Any]
    tags: tuple[str, ...]
    session: Session

    @property
    def request_time(self) -> int:
        return int(self.summary["request_time"])

    @cached_property
    def json(self) -> bytes:
        """The summary encoded once, so paging a large window only joins bytes."""
        return json.dumps(self.summary, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ActiveSession:
    """A session as seen at one moment: its requests so far and its latest activity."""

    session: Session
    count: int
    blocked: int
    first_ms: int
    last_ms: int


class _TrafficGenerator:
    """Draws addresses, sessions and requests from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._country_weights = [country.weight for country in catalog.COUNTRIES]
        self._status_codes = [code for code, _ in catalog.ORDINARY_STATUS_CODES]
        self._status_weights = [weight for _, weight in catalog.ORDINARY_STATUS_CODES]
        self._nat_gateways = [self._isp_address(("corporate",)) for _ in range(6)]
        self._cloud_addresses = [self._cloud_address() for _ in range(30)]
        self._crawler_addresses = {
            name: [self._crawler_address(name, host) for host in rng.sample(range(1, 250), 3)]
            for name in _CRAWLER_NETWORKS
        }

    def _random_ip(self) -> str:
        if self.rng.random() < _IPV6_SHARE:
            return str(ipaddress.IPv6Address((0x2A02 << 112) | self.rng.getrandbits(96)))
        while True:
            first = self.rng.randint(1, 223)
            if first not in (10, 100, 127, 169, 172, 192, 198, 203):
                break
        rest = (self.rng.randint(0, 255), self.rng.randint(0, 255), self.rng.randint(1, 254))
        return ".".join(str(octet) for octet in (first, *rest))

    def _isp_address(self, flags: tuple[str, ...]) -> Address:
        country = self.rng.choices(catalog.COUNTRIES, self._country_weights)[0]
        ip = self._random_ip()
        slug = country.isp.split()[0].lower().strip(".,")
        hostname = f"{ip.replace('.', '-').replace(':', '-')}.dyn.{slug}.net"
        return Address(ip, country, country.isp, country.asn, hostname, flags)

    def _cloud_address(self) -> Address:
        cloud = self.rng.choice(catalog.CLOUDS)
        country = next(c for c in catalog.COUNTRIES if c.code == cloud.country)
        ip = self._random_ip()
        slug = cloud.organization.split()[0].lower().strip(".,")
        hostname = f"{ip.replace('.', '-').replace(':', '-')}.compute.{slug}.com"
        flags = ("server", "cloud", "proxy") if self.rng.random() < 0.2 else ("server", "cloud")
        return Address(ip, country, cloud.organization, cloud.asn, hostname, flags)

    def _crawler_address(self, client_name: str, host: int) -> Address:
        prefix, organization, asn, domain = _CRAWLER_NETWORKS[client_name]
        ip = f"{prefix}{host}"
        hostname = f"crawl-{ip.replace('.', '-')}.{domain}"
        us = next(c for c in catalog.COUNTRIES if c.code == "US")
        return Address(ip, us, organization, asn, hostname, ("crawler", "robot"))

    def _address_for(self, kind: SessionKind, client: Client) -> Address:
        if kind == "crawler":
            return self.rng.choice(self._crawler_addresses[client.name])
        if kind in ("tool", "attacker"):
            return self.rng.choice(self._cloud_addresses)
        if self.rng.random() < _NAT_GATEWAY_SHARE:
            return self.rng.choice(self._nat_gateways)
        mobile = client.system in ("Android", "iOS")
        return self._isp_address(("mobile",) if mobile else ("broadband",))

    def session(self, domain: Domain) -> Session:
        """A new session with its fixed traits; its requests come from `request`."""
        rng = self.rng
        kind: SessionKind = rng.choices(list(_KIND_WEIGHTS), list(_KIND_WEIGHTS.values()))[0]
        clients = [client for client in catalog.CLIENTS if client.kind == kind]
        client = rng.choices(clients, [client.weight for client in clients])[0]
        return Session(
            id=f"{rng.getrandbits(128):032x}",
            domain=domain,
            kind=kind,
            client=client,
            address=self._address_for(kind, client),
            hostile=rng.random() < 0.6,
            attack_rule=rng.choice(catalog.ATTACK_RULES),
            scheme="http" if rng.random() < 0.03 else "https",
            http_version="1.1"
            if kind in ("tool", "attacker")
            else rng.choice(("2.0", "2.0", "3.0", "1.1")),
        )

    def session_size(self, kind: SessionKind, cap: int) -> int:
        """A heavy-tailed request count: most sessions are short, a few are huge."""
        size = math.ceil(_KIND_SIZE_SCALE[kind] * (self.rng.paretovariate(_PARETO_ALPHA) - 0.5))
        return max(1, min(size, cap))

    def session_times(self, session: Session, size: int, first_ms: int, end_ms: int) -> list[int]:
        """Request times in `[first_ms, end_ms)`, ascending, bots sometimes in bursts."""
        rng = self.rng
        duration = min(size * rng.expovariate(1 / _KIND_GAP_S[session.kind]) * 1000, 4 * 3600_000)
        latest_start = max(first_ms, end_ms - duration)
        start = rng.uniform(first_ms, latest_start)
        stop = min(start + duration, end_ms - 1)
        times = sorted(int(rng.uniform(start, stop)) for _ in range(size))
        if session.kind in ("tool", "attacker"):
            # Parallel requests: the same millisecond as the one before.
            times = [
                times[i - 1] if i and rng.random() < 0.2 else moment
                for i, moment in enumerate(times)
            ]
        return times

    def request(self, session: Session, request_time: int) -> RequestRecord:
        """One request of `session`, with a decision consistent with its kind and domain."""
        rng = self.rng
        kind = session.kind
        paths = {
            "browser": catalog.BROWSER_PATHS,
            "crawler": catalog.CRAWLER_PATHS,
            "tool": catalog.TOOL_PATHS,
            "attacker": catalog.ATTACK_PATHS,
        }[kind]
        path = rng.choice(paths).replace("{n}", str(rng.randint(1, 500)))
        method = self._method(kind, path)
        rule, optional_action = self._fired_rule(session, path, method)
        tags: tuple[str, ...] = () if rule is None else (rule.tag,)
        if kind == "browser":
            tags += ("mousedevice",)
        if rule is None:
            decision = "passed"
        elif rule.action == "allow":
            decision = "allowed"
        elif session.domain.status == "monitor":
            decision, optional_action = "monitored", ""
        else:
            decision = "blocked"
        blocked = decision == "blocked"
        status_code = 403 if blocked else self._status_code()
        summary: dict[str, Any] = {
            "id": f"{rng.getrandbits(128):032x}-{rng.randrange(1_000_000):06d}",
            "path": path,
            "client_ip": session.address.ip,
            "method": method,
            "rule_name": "" if rule is None else rule.name,
            "country": session.address.country.code,
            "action": "" if rule is None else rule.action,
            "rule_id": "" if rule is None else rule.rule_id,
            "domain": session.domain.name,
            "domain_id": session.domain.id,
            "user_agent": session.client.user_agent,
            "user_agent_client": session.client.name,
            "organization": session.address.organization,
            "request_time": request_time,
            "reference_id": f"{rng.getrandbits(128):032x}" if blocked else "",
            "session_id": session.id,
            "status_code": status_code,
            "result": {"blocked": "blocked", "monitored": "suppressed"}.get(decision, "passed"),
            "traffic_types": _traffic_types(decision, rule, path, status_code),
            "decision": decision,
            "optional_action": optional_action,
            "scheme": session.scheme,
            "http_version": session.http_version,
            "ja3": session.client.ja3,
        }
        return RequestRecord(summary, tags, session)

    def _method(self, kind: SessionKind, path: str) -> str:
        roll = self.rng.random()
        if kind == "attacker":
            return "POST" if roll < 0.3 else ("PUT" if roll < 0.35 else "GET")
        if kind in ("crawler", "tool") and roll < 0.15:
            return "HEAD"
        if path in ("/login", "/cart", "/checkout") or path.startswith("/api/"):
            return "POST" if roll < 0.4 else ("OPTIONS" if roll < 0.45 else "GET")
        return "GET"

    def _fired_rule(self, session: Session, path: str, method: str) -> tuple[Rule | None, str]:
        """The rule that fired on a request, if any, and the optional action it showed."""
        roll = self.rng.random()
        if session.kind == "crawler":
            return catalog.RULE_ALLOW_CRAWLERS, ""
        if session.kind == "attacker":
            if roll < 0.1:
                return catalog.RULE_CAPTCHA, "captcha"
            return (session.attack_rule, "") if roll < 0.9 else (None, "")
        if session.kind == "tool":
            if session.hostile and roll < 0.8:
                return (
                    (catalog.RULE_CHALLENGE, "challenge")
                    if roll < 0.25
                    else (catalog.RULE_AUTOMATED, "")
                )
            return (
                (catalog.RULE_RATE, "") if path.startswith("/api/") and roll > 0.97 else (None, "")
            )
        if path == "/login" and method == "POST" and roll < 0.1:
            return catalog.RULE_CAPTCHA, "captcha"
        return (catalog.ATTACK_RULES[-1], "") if roll < 0.003 else (None, "")

    def _status_code(self) -> int:
        code: int = self.rng.choices(self._status_codes, self._status_weights)[0]
        return code


def _traffic_types(decision: str, rule: Rule | None, path: str, status_code: int) -> str:
    kinds = []
    if decision == "blocked" and rule is not None:
        kinds.append("custom_blocked" if rule.rule_id.startswith("C") else "policy_blocked")
    elif decision == "allowed":
        kinds.append("policy_allowed")
    elif decision == "monitored":
        kinds.append("monitored")
    else:
        kinds.append("legit")
    if path.startswith(("/static/", "/images/")) or path == "/favicon.ico":
        kinds.append("static")
    elif path.startswith("/api/"):
        kinds.append("api")
    if decision != "blocked":
        if 300 <= status_code < 400:
            kinds.append("redirects")
        elif 400 <= status_code < 500:
            kinds.append("err_40x")
        elif status_code >= 500:
            kinds.append("err_50x")
    return ",".join(kinds)


class Dataset:
    """The simulated account: its domains and every request they received.

    Built once from a config; afterwards only `add_arrivals` changes it, bumping `version`.
    Reads from other threads (tests) go through a lock and get copies.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.version = 0
        self._lock = threading.Lock()
        # Address pools (NAT gateways, clouds, crawlers) come from the seed alone, so the
        # same busy IPs recur across days; each day then draws from a stream of its own.
        self._generator = _TrafficGenerator(random.Random(f"waap-sim/{config.seed}"))
        self.domains: tuple[Domain, ...] = self._make_domains()
        self._records: dict[int, list[RequestRecord]] = {d.id: [] for d in self.domains}
        self._times: dict[int, list[int]] = {d.id: [] for d in self.domains}
        self._sessions: list[Session] = []
        now_ms = to_ms(config.now)
        today_ms = now_ms - now_ms % DAY_MS
        for domain in self.domains:
            # Every day is drawn whole from its own seed and today is cut at `now`, so the
            # past never changes: a later `now` only adds today's newer requests.
            for day in range(config.days, -1, -1):
                self._generate(domain, today_ms - day * DAY_MS, until_ms=now_ms)
            records = sorted(self._records[domain.id], key=_record_order)
            self._records[domain.id] = records
            self._times[domain.id] = [record.request_time for record in records]

    def _make_domains(self) -> tuple[Domain, ...]:
        rng = random.Random(f"waap-sim/{self.config.seed}/domains")
        count = self.config.domains
        ids = sorted(rng.sample(range(1000, 99_999), count))
        domains = []
        for index, domain_id in enumerate(ids):
            base = _DOMAIN_NAMES[index % len(_DOMAIN_NAMES)]
            name = base if index < len(_DOMAIN_NAMES) else f"s{index}.{base}"
            status = "monitor" if count >= 3 and index == count - 1 else "active"
            created = self.config.now - timedelta(days=self.config.days + rng.randint(30, 900))
            page_set = rng.choice((None, None, rng.randint(1, 50)))
            domains.append(
                Domain(domain_id, name, status, created.replace(microsecond=0), page_set)
            )
        return tuple(domains)

    def _generate(self, domain: Domain, day_ms: int, until_ms: int) -> None:
        """One UTC day of sessions for one domain, keeping the requests before `until_ms`."""
        generator = self._generator
        generator.rng = random.Random(f"waap-sim/{self.config.seed}/{domain.id}/{day_ms}")
        total = self.config.requests_per_day
        cap = max(1, total // 20)
        remaining = total
        while remaining > 0:
            session = generator.session(domain)
            size = min(remaining, generator.session_size(session.kind, cap))
            if size <= 3 and generator.rng.random() < 0.02:
                session.id = ""
            moments = generator.session_times(session, size, day_ms, day_ms + DAY_MS)
            # Draw every request, then keep the past ones: the stream must not depend on now.
            drawn = [generator.request(session, moment) for moment in moments]
            session.records.extend(r for r in drawn if r.request_time < until_ms)
            remaining -= size
            if session.records:
                self._records[domain.id].extend(session.records)
                self._sessions.append(session)

    def domain(self, domain_id: int) -> Domain | None:
        """The account's domain with this id, if any."""
        return next((domain for domain in self.domains if domain.id == domain_id), None)

    def requests(self, domain_id: int) -> list[dict[str, Any]]:
        """The RequestSummary dicts of a domain, as served, ascending by `(request_time, id)`."""
        with self._lock:
            return [record.summary for record in self._records.get(domain_id, [])]

    def records_between(self, domain_id: int, start_ms: int, end_ms: int) -> list[RequestRecord]:
        """The records of a domain with `start_ms <= request_time < end_ms`, ascending."""
        with self._lock:
            times = self._times.get(domain_id, [])
            low = bisect.bisect_left(times, start_ms)
            high = bisect.bisect_left(times, end_ms)
            return self._records[domain_id][low:high]

    def latest_request_ms(self) -> int:
        """The newest request time of the account (0 when there is none)."""
        with self._lock:
            return max((times[-1] for times in self._times.values() if times), default=0)

    def top_sessions(self, ip: str, domain_id: int) -> list[dict[str, Any]]:
        """IP Spotlight: the 10 sessions of an IP on a domain with most requests (ties by id).

        Computed from the same records the request analytics serve, over the whole data set.
        """
        canonical = str(ipaddress.ip_address(ip))
        with self._lock:
            matching = [
                session
                for session in self._sessions
                if session.id and session.domain.id == domain_id and session.address.ip == canonical
            ]
            matching.sort(key=lambda session: (-len(session.records), session.id))
            return [_top_session(session) for session in matching[:10]]

    def active_sessions(self, at: datetime) -> list[ActiveSession]:
        """Sessions whose last request at `at` is at most `active_window_s` old, newest first.

        Unsessioned requests (`session_id` "") never form a session.
        """
        at_ms = to_ms(at)
        oldest_ms = at_ms - self.config.active_window_s * 1000
        active = []
        with self._lock:
            for session in self._sessions:
                if not session.id:
                    continue
                times = [record.request_time for record in session.records]
                count = bisect.bisect_right(times, at_ms)
                if count and times[count - 1] >= oldest_ms:
                    seen = session.records[:count]
                    blocked = sum(r.summary["decision"] == "blocked" for r in seen)
                    active.append(
                        ActiveSession(session, count, blocked, times[0], times[count - 1])
                    )
        active.sort(key=lambda item: (-item.last_ms, item.session.id))
        return active

    def add_arrivals(self, per_domain: int, at: datetime) -> None:
        """Append `per_domain` new requests to every domain, stamped at `at`.

        Each continues the domain's most recent session, as a live visitor would.
        """
        at_ms = to_ms(at)
        with self._lock:
            for domain in self.domains:
                records = self._records[domain.id]
                session = next((r.session for r in reversed(records) if r.session.id), None)
                if session is None:
                    session = self._generator.session(domain)
                    self._sessions.append(session)
                stamp = max([at_ms, *self._times[domain.id][-1:]])
                for _ in range(per_domain):
                    record = self._generator.request(session, stamp)
                    session.records.append(record)
                    records.append(record)
                    self._times[domain.id].append(record.request_time)
            self.version += 1

    def add_request(self, domain_id: int, at: datetime) -> dict[str, Any]:
        """One more request of a domain at exactly `at` (an edge: the first of a day), in
        a new session; its summary."""
        at_ms = to_ms(at)
        with self._lock:
            domain = next(domain for domain in self.domains if domain.id == domain_id)
            session = self._generator.session(domain)
            record = self._generator.request(session, at_ms)
            session.records.append(record)
            self._sessions.append(session)
            index = bisect.bisect_right(self._times[domain_id], at_ms)
            self._records[domain_id].insert(index, record)
            self._times[domain_id].insert(index, at_ms)
            self.version += 1
            return dict(record.summary)


def _record_order(record: RequestRecord) -> tuple[int, str]:
    return record.request_time, record.summary["id"]


def _top_session(session: Session) -> dict[str, Any]:
    first_ms = session.records[0].request_time
    last_ms = session.records[-1].request_time
    return {
        "session_id": str(uuid.UUID(hex=session.id)),
        "duration": (last_ms - first_ms) / 1000,
        "requests": len(session.records),
        "blocked": sum(record.summary["decision"] == "blocked" for record in session.records),
        "start_time": iso_utc(first_ms),
    }
