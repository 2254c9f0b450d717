"""The one deterministic traffic data set behind all four simulated APIs: storage and views.

`traffic.py` draws the sessions and requests and `firewall.py` decides each request; this
module keeps them per domain, sorted, and answers the views the APIs serve (a window of
requests, an IP's top sessions, the sessions active at a moment).

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
import math
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from waap_sessions.simulator.config import SimulatorConfig
from waap_sessions.simulator.traffic import (
    DAY_MS,
    Domain,
    RequestRecord,
    Session,
    TrafficGenerator,
)
from waap_sessions.simulator.workforce import workforce

__all__ = ["DAY_MS", "ActiveSession", "Dataset", "Domain", "RequestRecord", "Session"]

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


def iso_utc(ms: int) -> str:
    """UNIX milliseconds as ISO 8601 UTC with millisecond precision, e.g. `...T12:00:00.000Z`."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ms(moment: datetime) -> int:
    """An aware datetime as UNIX milliseconds."""
    return math.floor(moment.timestamp() * 1000)


@dataclass(frozen=True)
class ActiveSession:
    """A session as seen at one moment: its requests so far and its latest activity."""

    session: Session
    count: int
    blocked: int
    detected: int  # requests a refusing rule fired on, blocked or only monitored
    first_ms: int
    last_ms: int


class Dataset:
    """The simulated account: its domains and every request they received.

    Built once from a config; afterwards only `add_arrivals` changes it, bumping `version`.
    Reads from other threads (tests) go through a lock and get copies.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.version = 0
        self._lock = threading.Lock()
        # Address pools (office NATs, clouds, crawlers) come from the seed alone, so the
        # same busy IPs recur across days; each day then draws from a stream of its own.
        # The company's staff browse its sites from their offices, the Appgate population's.
        offices = workforce(config.seed).office_egress
        self._generator = TrafficGenerator(config.seed, list(offices))
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
        """The sessions that start on one UTC day of one domain, keeping the requests before
        `until_ms` (a session may run on past midnight into the next day)."""
        generator = self._generator
        generator.rng = random.Random(f"waap-sim/{self.config.seed}/{domain.id}/{day_ms}")
        # Draw every request, then keep the past ones: the stream must not depend on now.
        for session in generator.day(
            domain, day_ms, self.config.requests_per_day, self.config.exact_volume
        ):
            session.records = [r for r in session.records if r.request_time < until_ms]
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
                    detected = sum(r.detected for r in seen)
                    active.append(
                        ActiveSession(session, count, blocked, detected, times[0], times[count - 1])
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
