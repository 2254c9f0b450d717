"""Sessions and requests with the shape of real web traffic, drawn from one seeded stream.

The shapes it follows:
- Session sizes are heavy-tailed (Pareto), as measured on web servers since Arlitt and
  Williamson ("Web server workload characterization", 1996) and Crovella and Bestavros
  ("Self-similarity in World Wide Web traffic", 1997, tail index 1 to 1.5): most
  sessions are a request or a handful, a few run to thousands. Sizes are never capped; a
  draw larger than the kind's plausible ceiling is drawn again, so no size piles up.
- People arrive with the daily rhythm of their own country's local time (the catalog's
  `HOURLY_SHAPE`); crawlers, scripts and attack kits arrive at any hour. A page view
  pulls its assets in parallel, then the reader thinks (log-normal pauses, as in Barford
  and Crovella's SURGE model, 1998). A session started before midnight goes on after it.
- Daily volumes vary with the weekday and from day to day (log-normal, about 12%), and
  some days carry a burst: a vulnerability scanner working through a domain, or a
  credential-stuffing wave of many residential proxies trying a few logins each.
- Attack traffic comes from a pool of hosting and proxy addresses that recur across days
  and domains; about a third of them have a bad reputation, which holds for every
  request they send (the verdicts come from `firewall.py`).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from waap_sessions.simulator import catalog, firewall, networks
from waap_sessions.simulator.catalog import Client, PayloadClass, SessionKind
from waap_sessions.simulator.networks import Address

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

_KIND_WEIGHTS: dict[SessionKind, float] = {
    "browser": 0.81,
    "crawler": 0.06,
    "tool": 0.07,
    "spoofer": 0.03,
    "attacker": 0.03,
}
# Pareto scale and tail index of the session size, and the size above which a draw is
# drawn again (a person does not send 5,000 requests; a crawler may).
_SIZE: dict[SessionKind, tuple[float, float, int]] = {
    "browser": (1.5, 1.4, 3_000),
    "crawler": (2.0, 1.1, 20_000),
    "tool": (2.0, 1.2, 10_000),
    "spoofer": (2.0, 1.3, 5_000),
    "attacker": (3.0, 1.2, 5_000),
}
# Mean seconds between requests of the kinds that do not read pages.
_GAP_S: dict[str, float] = {
    "crawler": 20.0,
    "tool": 1.5,
    "spoofer": 2.0,
    "sqlmap": 0.4,
    "Nikto": 0.15,
    "Nuclei": 0.12,
    "WPScan": 0.5,
    "Hydra": 0.3,
}
_CORPORATE_SHARE = 0.03  # browser sessions of the company's staff, from an office's NAT
_ATTACK_POOL = 240
_BAD_REPUTATION_SHARE = 0.35
_SCANNER_DAY_SHARE = 0.25
_STUFFING_DAY_SHARE = 0.2
_UNSESSIONED_SHARE = 0.03  # single requests the WAAP could not tie to a session
_OPEN_TAB_SHARE = 0.04  # browser sessions whose tab stays open, polling for news


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


@dataclass
class Session:
    """One visitor's session on one domain; `id` is "" for requests the WAAP left unsessioned."""

    id: str
    domain: Domain
    kind: SessionKind
    client: Client
    client_version: str  # the client's release this visitor runs
    address: Address
    scheme: str
    http_version: str
    ja3: str
    bad_reputation: bool
    records: list[RequestRecord] = field(default_factory=list)
    open_tab: bool = False
    logins: int = 0
    api_call_times: list[int] = field(default_factory=list)

    @property
    def ja4(self) -> str:
        """The JA4 of the session's TLS handshake: none over plain http."""
        return self.client.ja4 if self.scheme == "https" else ""

    @property
    def user_agent(self) -> str:
        """The User-Agent header this session sends."""
        return self.client.user_agent_of(self.client_version)


@dataclass
class RequestRecord:
    """One request: `summary` holds exactly the RequestSummary fields Gcore serves.

    `tags` (and the session's client device and JA4) are hidden attributes: the analytics
    filters use them, the RequestSummary does not carry them. `detected` says a refusing
    rule fired, blocked or only monitored.
    """

    summary: dict[str, Any]
    tags: tuple[str, ...]
    session: Session
    detected: bool

    @property
    def request_time(self) -> int:
        return int(self.summary["request_time"])

    @cached_property
    def json(self) -> bytes:
        """The summary encoded once, so paging a large window only joins bytes."""
        return json.dumps(self.summary, separators=(",", ":")).encode()


class TrafficGenerator:
    """Draws sessions and requests; the address pools come from the seed alone."""

    def __init__(self, seed: int, corporate: list[Address]) -> None:
        pools = random.Random(f"waap-sim/{seed}/pools")
        self.rng = pools
        self._corporate = corporate
        self._country_weights = [country.weight for country in catalog.COUNTRIES]
        self._status_codes = [code for code, _ in catalog.ORDINARY_STATUS_CODES]
        self._status_weights = [weight for _, weight in catalog.ORDINARY_STATUS_CODES]
        # Attack kits rent servers, and rent residential proxies to look like people.
        self._attack_pool = [
            networks.hosted(pools, networks.random_hosting(pools), ("server", "cloud"))
            if pools.random() < 0.7
            else networks.residential(pools, self._random_country(pools), mobile=False)
            for _ in range(_ATTACK_POOL)
        ]
        self._scraper_pool = [
            networks.hosted(pools, networks.random_hosting(pools), ("server", "cloud", "proxy"))
            for _ in range(60)
        ]
        self._bad_reputation = {
            address.ip for address in self._attack_pool if pools.random() < _BAD_REPUTATION_SHARE
        }
        self._crawler_addresses = {
            name: [networks.hosted(pools, network, ("crawler", "robot")) for _ in range(6)]
            for name, network in catalog.CRAWLER_NETWORKS.items()
        }
        self._clients = {
            kind: [client for client in catalog.CLIENTS if client.kind == kind]
            for kind in _KIND_WEIGHTS
        }

    # -- addresses --------------------------------------------------------------------

    def _random_country(self, rng: random.Random) -> catalog.Country:
        return rng.choices(catalog.COUNTRIES, self._country_weights)[0]

    def _address_for(self, kind: SessionKind, client: Client) -> Address:
        rng = self.rng
        if kind == "crawler":
            return rng.choice(self._crawler_addresses[client.name])
        if kind == "attacker":
            return rng.choice(self._attack_pool)
        if kind in ("tool", "spoofer"):
            if client.name == "curl" and rng.random() < 0.3:  # a developer at home
                return networks.residential(rng, self._random_country(rng), mobile=False)
            return rng.choice(self._scraper_pool)
        if self._corporate and rng.random() < _CORPORATE_SHARE:
            return rng.choice(self._corporate)
        mobile = client.system in ("Android", "iOS")
        return networks.residential(rng, self._random_country(rng), mobile)

    # -- sessions ---------------------------------------------------------------------

    def session(self, domain: Domain, kind: SessionKind | None = None) -> Session:
        """A new session with its fixed traits; its requests come from `request`."""
        rng = self.rng
        if kind is None:
            kind = rng.choices(list(_KIND_WEIGHTS), list(_KIND_WEIGHTS.values()))[0]
        clients = self._clients[kind]
        client = rng.choices(clients, [client.weight for client in clients])[0]
        return self._session(domain, kind, client, self._address_for(kind, client))

    def _session(
        self, domain: Domain, kind: SessionKind, client: Client, address: Address
    ) -> Session:
        rng = self.rng
        session_id = f"{rng.getrandbits(128):032x}"
        version = client.version
        if client.older_versions and rng.random() < 0.4:
            version = rng.choice(client.older_versions)
        scheme = "http" if rng.random() < client.plain_http else "https"
        if scheme == "http":
            http_version, ja3 = "1.1", ""
        else:
            http_version = self._tls_http_version(kind, client)
            ja3 = f"{rng.getrandbits(128):032x}" if client.permuted_ja3 else client.ja3
        return Session(
            id=session_id,
            domain=domain,
            kind=kind,
            client=client,
            client_version=version,
            address=address,
            scheme=scheme,
            http_version=http_version,
            ja3=ja3,
            bad_reputation=address.ip in self._bad_reputation,
        )

    def _tls_http_version(self, kind: SessionKind, client: Client) -> str:
        """Browsers speak HTTP/2 and often HTTP/3 over TLS; scripts mostly HTTP/1.1."""
        roll = self.rng.random()
        if kind == "browser":
            return "3.0" if roll < 0.25 else ("2.0" if roll < 0.95 else "1.1")
        if client.name in ("Go-http-client", "HeadlessChrome", "Googlebot", "bingbot"):
            return "2.0"
        return "1.1"

    def session_size(self, kind: SessionKind) -> int:
        """A heavy-tailed request count without a cap: a draw above the ceiling is redrawn."""
        scale, alpha, ceiling = _SIZE[kind]
        while True:
            size = math.floor(scale * self.rng.paretovariate(alpha))
            if size <= ceiling:
                return max(1, size)

    def session_times(self, session: Session, size: int, start_ms: int) -> list[tuple[int, str]]:
        """`size` request times from `start_ms` on, each with what it asks: a "page", a
        page's "asset", or an open tab's "poll".

        People read pages: a page, its assets in parallel, then a pause to read. A tab
        left open polls once a minute for as long as it stays open. Machines send at a
        steady, exponential pace.
        """
        rng = self.rng
        moments: list[tuple[int, str]] = []
        now = float(start_ms)
        if session.open_tab:
            moments.append((start_ms, "page"))
            for _ in range(size - 1):
                now += rng.uniform(58_000, 62_000)
                moments.append((int(now), "poll"))
            return moments
        if session.kind == "browser":
            while len(moments) < size:
                moments.append((int(now), "page"))
                for _ in range(min(size - len(moments), rng.choice((0, 0, 1, 2, 3, 4)))):
                    moments.append((int(now + rng.uniform(20, 400)), "asset"))
                now += rng.lognormvariate(math.log(20_000), 1.3)
            return sorted(moments)
        mean_gap_ms = 1000 * _GAP_S.get(session.client.name, _GAP_S.get(session.kind, 1.0))
        for _ in range(size):
            moments.append((int(now), "page"))
            now += rng.expovariate(1 / mean_gap_ms)
        return moments

    def start_time(self, session: Session, day_ms: int) -> int:
        """When in the UTC day a session starts: people by their local hour (at the office,
        its working hours), machines any time."""
        rng = self.rng
        if session.kind != "browser":
            return day_ms + rng.randrange(DAY_MS)
        offset_ms = int(session.address.country.utc_offset_h * HOUR_MS)
        shape = (
            catalog.OFFICE_HOURLY_SHAPE
            if "corporate" in session.address.flags
            else catalog.HOURLY_SHAPE
        )
        while True:
            moment = day_ms + rng.randrange(DAY_MS)
            local_hour = ((moment + offset_ms) // HOUR_MS) % 24
            if rng.random() < shape[local_hour]:
                return moment

    # -- requests ---------------------------------------------------------------------

    def request(
        self, session: Session, request_time: int, asset: bool = False, path: str | None = None
    ) -> RequestRecord:
        """One request of `session` (to `path` if given), with the firewall's verdict."""
        rng = self.rng
        payload: PayloadClass = "none"
        if path is None:
            path, payload = self._path(session, asset)
        method = self._method(session.kind, path, payload)
        if method == "POST" and path == "/login":
            payload = "login"
        logins = session.logins
        if payload == "login":
            session.logins += 1
        api_calls = 0
        if path.startswith("/api/"):
            recent = [
                t for t in session.api_call_times if t > request_time - firewall.RATE_WINDOW_MS
            ]
            session.api_call_times = [*recent, request_time]
            api_calls = len(session.api_call_times)
        verdict = firewall.verdict(
            firewall.Request(
                kind=session.kind,
                client_name=session.client.name,
                bad_reputation=session.bad_reputation,
                monitor_mode=session.domain.status == "monitor",
                path=path,
                method=method,
                payload=payload,
                logins_so_far=logins,
                api_calls_in_window=api_calls,
            )
        )
        rule, decision = verdict.rule, verdict.decision
        blocked = decision == "blocked"
        status_code = 403 if blocked else self._status_code(payload)
        tags: tuple[str, ...] = () if rule is None else (rule.tag,)
        if session.kind == "browser":
            tags += ("mousedevice",)
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
            "user_agent": session.user_agent,
            "user_agent_client": session.client.name,
            "organization": session.address.organization,
            "request_time": request_time,
            "reference_id": f"{rng.getrandbits(128):032x}" if blocked else "",
            "session_id": session.id,
            "status_code": status_code,
            "result": {"blocked": "blocked", "monitored": "suppressed"}.get(decision, "passed"),
            "traffic_types": _traffic_types(decision, rule, path, status_code),
            "decision": decision,
            "optional_action": verdict.optional_action,
            "scheme": session.scheme,
            "http_version": session.http_version,
            "ja3": session.ja3,
        }
        return RequestRecord(summary, tags, session, verdict.detected)

    def _path(self, session: Session, asset: bool) -> tuple[str, PayloadClass]:
        rng = self.rng
        kind, client = session.kind, session.client
        if kind == "attacker":
            classes, weights = zip(*catalog.ATTACK_REPERTOIRE[client.name], strict=True)
            payload: PayloadClass = rng.choices(classes, weights)[0]
            template = rng.choice(catalog.ATTACK_PATHS[payload])
            return self._fill(template), payload
        if kind == "browser":
            paths = catalog.ASSET_PATHS if asset else catalog.BROWSER_PATHS
        elif kind == "crawler":
            paths = catalog.CRAWLER_PATHS
        elif kind == "tool":  # integrations call the API; headless browsers and some scripts scrape
            scrapes = client.name == "HeadlessChrome" or rng.random() < 0.3
            paths = catalog.SCRAPE_PATHS if scrapes else catalog.API_PATHS
        else:
            paths = catalog.SCRAPE_PATHS if rng.random() < 0.8 else ("/login",)
        return self._fill(rng.choice(paths)), "none"

    def _fill(self, template: str) -> str:
        """A path template with a number and, for out-of-band probes, a callback host."""
        callback = f"{self.rng.getrandbits(64):016x}.oast.pro"
        return template.replace("{n}", str(self.rng.randint(1, 500))).replace(
            "{callback}", callback
        )

    def _method(self, kind: SessionKind, path: str, payload: PayloadClass) -> str:
        roll = self.rng.random()
        if payload == "login" or (kind in ("spoofer", "attacker") and path == "/login"):
            return "POST"
        if kind == "attacker":
            return "POST" if payload in ("sqli", "rce") and roll < 0.3 else "GET"
        if kind in ("crawler", "tool") and roll < 0.1:
            return "HEAD"
        if path in ("/login", "/cart", "/checkout") or path.startswith("/api/"):
            return "POST" if roll < 0.4 else ("OPTIONS" if roll < 0.45 else "GET")
        return "GET"

    def _status_code(self, payload: PayloadClass) -> int:
        if payload not in ("none", "login"):  # a probe the origin answers: mostly not found
            return self.rng.choice((404, 404, 404, 400, 401, 500))
        code: int = self.rng.choices(self._status_codes, self._status_weights)[0]
        return code

    # -- a day ------------------------------------------------------------------------

    def day(
        self, domain: Domain, day_ms: int, mean_requests: int, exact: bool = False
    ) -> list[Session]:
        """The sessions that start on one UTC day of one domain, requests drawn whole.

        Volume follows the weekday and varies from day to day; some days add a scanner
        or a credential-stuffing wave on top. `exact` draws exactly `mean_requests`, all
        inside the day: the last session is cut to fit, a session that would run past
        midnight starts earlier, and there are no bursts.
        """
        rng = self.rng
        weekday = datetime.fromtimestamp(day_ms / 1000, UTC).weekday()
        target = mean_requests * catalog.WEEKDAY_SHAPE[weekday] * rng.lognormvariate(0, 0.12)
        if exact:
            target = mean_requests
        sessions: list[Session] = []
        drawn = 0
        while drawn < target:
            session = self.session(domain)
            size = self.session_size(session.kind)
            if session.kind == "browser" and rng.random() < _OPEN_TAB_SHARE:
                session.open_tab = True  # one poll a minute while it stays open
                size = 1 + round(rng.lognormvariate(math.log(60), 0.8))
            if exact:
                size = min(size, mean_requests - drawn)
            if size == 1 and rng.random() < _UNSESSIONED_SHARE:
                session.id = ""
            self._fill_session(session, size, self.start_time(session, day_ms))
            if exact:
                _keep_inside(session, day_ms)
            sessions.append(session)
            drawn += size
        if exact:
            return sessions
        if rng.random() < _SCANNER_DAY_SHARE:
            sessions.append(self._scanner(domain, day_ms, mean_requests))
        if rng.random() < _STUFFING_DAY_SHARE:
            sessions.extend(self._credential_stuffing(domain, day_ms, mean_requests))
        return sessions

    def _fill_session(self, session: Session, size: int, start_ms: int) -> None:
        for moment, asks in self.session_times(session, size, start_ms):
            path = catalog.POLL_PATH if asks == "poll" else None
            session.records.append(self.request(session, moment, asks == "asset", path))

    def _scanner(self, domain: Domain, day_ms: int, mean_requests: int) -> Session:
        """One address working through the domain with one attack kit, for an hour or so."""
        session = self.session(domain, "attacker")
        size = max(20, int(mean_requests * self.rng.uniform(0.03, 0.2)))
        self._fill_session(session, size, day_ms + self.rng.randrange(DAY_MS))
        return session

    def _credential_stuffing(
        self, domain: Domain, day_ms: int, mean_requests: int
    ) -> list[Session]:
        """Many residential proxies in many countries, each trying a few logins, in a wave."""
        rng = self.rng
        wave_start = day_ms + rng.randrange(DAY_MS)
        wave_ms = rng.randint(1, 3) * HOUR_MS
        proxies = max(5, int(mean_requests * rng.uniform(0.005, 0.02)))
        clients = [client for client in self._clients["spoofer"] if client.name == "Chrome"]
        sessions = []
        for _ in range(proxies):
            address = networks.residential(rng, self._random_country(rng), mobile=False)
            session = self._session(domain, "spoofer", rng.choice(clients), address)
            moment = float(wave_start + rng.randrange(wave_ms))
            for _ in range(rng.randint(2, 12)):
                session.records.append(self.request(session, int(moment), path="/login"))
                moment += rng.expovariate(1 / 8_000)
            sessions.append(session)
        return sessions


def _keep_inside(session: Session, day_ms: int) -> None:
    """Move a session that runs past its day earlier; one longer than the day wraps round."""
    overrun = session.records[-1].request_time - (day_ms + DAY_MS - 1)
    if overrun <= 0:
        return
    shift = min(overrun, session.records[0].request_time - day_ms)
    for record in session.records:
        moved = record.request_time - shift
        record.summary["request_time"] = day_ms + (moved - day_ms) % DAY_MS
    session.records.sort(key=lambda record: record.request_time)


def _traffic_types(decision: str, rule: catalog.Rule | None, path: str, status_code: int) -> str:
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
