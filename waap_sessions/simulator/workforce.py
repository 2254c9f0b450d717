"""Appgate SDP's own population: a software company's staff on its zero-trust VPN.

The web traffic's visitors (browsers, crawlers, attack tools) are not Appgate's users; a
company's employees and contractors on managed devices are. Berlin HQ and five offices
hold the employees; contractors work from home, most of them abroad, on older clients
more often. A person connects on working days within local working hours (a start time
of their own, jittered per day, a lunch break, some long days and evenings), a few
on-call engineers at night, a handful of people on weekends, and a few headless clients
(build and backup servers) stay connected around the clock.

Everything is drawn from (seed, person, local date), so re-asking gives the same answer
and moving the simulated clock changes who is connected smoothly. Addresses come from
the networks the web traffic uses too (`networks.py`): an office's NAT egress (a few fixed
business-line IPv4 addresses everyone in the office shares; `Workforce.office_egress`
lets the web traffic send employees' browsing of the company's own sites from them) or a
home or mobile line in the person's country. Each city keeps its own UTC offset (New York
is not the US centroid's); daylight saving and public holidays are left out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal

from waap_sessions.simulator import networks
from waap_sessions.simulator.networks import Address

Role = Literal["employee", "contractor", "service"]
Line = Literal["office", "home", "mobile"]


@dataclass(frozen=True)
class Site:
    """A city people connect from, as GeoIP places it (the dashboard's location)."""

    city: str
    country: str
    latitude: float
    longitude: float
    utc_offset_h: float  # the city's standard time (a country may span several zones)

    @property
    def continent(self) -> str:
        return networks.country(self.country).continent


@dataclass(frozen=True)
class Release:
    """An Appgate SDP client release, the controller's support for it, and who runs it.

    The weights are shares of each role's devices: managed laptops get the two newest
    releases from device management, contractors' own machines lag behind.
    """

    version: str
    support: str  # one of enumerations.APPGATE_SUPPORT_STATUSES
    employee: float
    contractor: float
    service: float


# (site, share of employees, NAT egress addresses)
_OFFICES: tuple[tuple[Site, float, int], ...] = (
    (Site("Berlin", "DE", 52.5200, 13.4050, 1), 0.38, 4),
    (Site("London", "GB", 51.5074, -0.1278, 0), 0.14, 2),
    (Site("Warsaw", "PL", 52.2297, 21.0122, 1), 0.16, 3),
    (Site("New York", "US", 40.7128, -74.0060, -5), 0.14, 3),
    (Site("Bangalore", "IN", 12.9716, 77.5946, 5.5), 0.12, 2),
    (Site("Singapore", "SG", 1.3521, 103.8198, 8), 0.06, 2),
)
# Where contractors live when not in an office city: (site, share).
_CONTRACTOR_HOMES: tuple[tuple[Site, float], ...] = (
    (Site("Kyiv", "UA", 50.4501, 30.5234, 2), 0.30),
    (Site("Bucharest", "RO", 44.4268, 26.1025, 2), 0.25),
    (Site("Ho Chi Minh City", "VN", 10.8231, 106.6297, 7), 0.25),
    (Site("Sao Paulo", "BR", -23.5505, -46.6333, -3), 0.20),
)
RELEASES: tuple[Release, ...] = (
    Release("6.4.2-release-4105", "full", 52, 18, 4),
    Release("6.4.1-release-4032", "full", 10, 8, 1),
    Release("6.3.5-release-3876", "full", 22, 20, 1),
    Release("6.3.3-release-3790", "full", 6, 10, 0),
    Release("6.2.6-release-3544", "partial", 6, 18, 0),
    Release("6.1.4-release-3310", "partial", 3, 14, 0),
    Release("6.0.7-release-3102", "none", 1, 7, 0),
    Release("5.5.9-release-2890", "none", 0, 5, 0),
)
EMPLOYEES = 340
CONTRACTORS = 60
_CONTRACTORS_ABROAD = 0.7  # the rest live in an office's city but never use the office
_SERVICE_SITES = ("Berlin", "Berlin", "Berlin", "New York", "New York", "Singapore")

# A day's shape, in local hours and probabilities.
_WORKDAY_ATTENDANCE = 0.9  # the rest are on leave, ill or travelling without the laptop
_TRAVEL = 0.02  # a working day at another office
_MOBILE = 0.05  # a working day from a phone's hotspot instead of home broadband
_START_JITTER_H = 0.6
_WORKDAY_H = 8.5
_LONG_DAY = 0.12  # two to four hours more
_LUNCH_BREAK = 0.5  # the client disconnects over lunch and connects again
_EVENING = 0.15  # an hour or so after dinner
_WEEKEND = 0.06
_ON_CALL = 0.1  # of employees
_NIGHT_PAGE = 0.12  # of an on-call engineer's nights


@dataclass(frozen=True)
class Office:
    """An office: its city, its share of employees and its NAT's public addresses."""

    site: Site
    share: float
    egress: tuple[Address, ...]


@dataclass(frozen=True)
class Person:
    """Someone (or a headless server) with an Appgate client installed on one device."""

    id: int
    role: Role
    home: Site
    office: Office | None  # employees' and servers' office; contractors have none
    release: Release
    start_h: float  # the local hour their working day usually starts
    office_days: float  # the share of working days spent at the office
    on_call: bool
    home_address: Address


@dataclass(frozen=True)
class Connection:
    """One Appgate session: a person's device connected from a place, for a while."""

    person: Person
    site: Site
    address: Address
    start: datetime
    end: datetime

    def active_at(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _address(rng: random.Random, site: Site, line: Line) -> Address:
    """An address on a line in the site's country: the one place addresses are drawn."""
    country = networks.country(site.country)
    if line == "office":
        return networks.business(rng, country)
    return networks.residential(rng, country, mobile=line == "mobile")


class Workforce:
    """The company's people and their Appgate sessions, deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._days: dict[tuple[int, date], tuple[Connection, ...]] = {}
        rng = random.Random(f"appgate-workforce/{seed}")
        self.offices = tuple(
            Office(site, share, tuple(_address(rng, site, "office") for _ in range(count)))
            for site, share, count in _OFFICES
        )
        people = [self._employee(rng, index) for index in range(EMPLOYEES)]
        people += [self._contractor(rng, EMPLOYEES + index) for index in range(CONTRACTORS)]
        by_city = {office.site.city: office for office in self.offices}
        people += [
            self._person(rng, len(people) + index, "service", by_city[city])
            for index, city in enumerate(_SERVICE_SITES)
        ]
        self.people = tuple(people)

    @property
    def office_egress(self) -> tuple[Address, ...]:
        """Every office's NAT addresses: where employees' browsing leaves the company."""
        return tuple(address for office in self.offices for address in office.egress)

    def _release(self, rng: random.Random, role: Role) -> Release:
        return rng.choices(RELEASES, [getattr(release, role) for release in RELEASES])[0]

    def _person(self, rng: random.Random, id: int, role: Role, office: Office) -> Person:
        return Person(
            id=id,
            role=role,
            home=office.site,
            office=office,
            release=self._release(rng, role),
            start_h=rng.uniform(7.5, 10.0),
            office_days=rng.choice((0.2, 0.4, 0.6, 0.8, 0.9)),
            on_call=role == "employee" and rng.random() < _ON_CALL,
            home_address=_address(rng, office.site, "home"),
        )

    def _employee(self, rng: random.Random, id: int) -> Person:
        office = rng.choices(self.offices, [office.share for office in self.offices])[0]
        return self._person(rng, id, "employee", office)

    def _contractor(self, rng: random.Random, id: int) -> Person:
        if rng.random() < _CONTRACTORS_ABROAD:
            home = rng.choices(_CONTRACTOR_HOMES, [share for _, share in _CONTRACTOR_HOMES])[0][0]
        else:
            home = rng.choice(self.offices).site
        return Person(
            id=id,
            role="contractor",
            home=home,
            office=None,
            release=self._release(rng, "contractor"),
            start_h=rng.uniform(8.0, 11.0),
            office_days=0.0,
            on_call=False,
            home_address=_address(rng, home, "home"),
        )

    def active(self, at: datetime) -> list[Connection]:
        """The sessions connected at `at`, person by person."""
        found = []
        for person in self.people:
            today = (at + timedelta(hours=person.home.utc_offset_h)).date()
            for offset in (-1, 0, 1):
                day = today + timedelta(days=offset)
                found += [c for c in self._day(person, day) if c.active_at(at)]
        return found

    def _day(self, person: Person, day: date) -> tuple[Connection, ...]:
        key = (person.id, day)
        if key not in self._days:
            rng = random.Random(f"appgate-workforce/{self.seed}/{person.id}/{day.isoformat()}")
            self._days[key] = tuple(self._draw_day(rng, person, day))
        return self._days[key]

    def _draw_day(self, rng: random.Random, person: Person, day: date) -> list[Connection]:
        """A person's sessions on a local date: spans of local hours, turned into UTC."""
        office = person.office
        if person.role == "service":
            assert office is not None
            egress = office.egress[person.id % len(office.egress)]
            return [self._connection(person, person.home, egress, day, 0, 24)]
        place = person.home  # where the person is today
        spans: list[tuple[float, float, Line]] = []
        workday = day.weekday() < 5
        if workday and rng.random() < _WORKDAY_ATTENDANCE:
            line: Line = "home"
            if office is not None and rng.random() < _TRAVEL:
                office = rng.choice([other for other in self.offices if other is not office])
                place, line = office.site, "office"
            elif office is not None and rng.random() < person.office_days:
                line = "office"
            elif rng.random() < _MOBILE:
                line = "mobile"
            start = person.start_h + rng.gauss(0, _START_JITTER_H)
            end = start + rng.gauss(_WORKDAY_H, 0.8)
            if rng.random() < _LONG_DAY:
                end += rng.uniform(2, 4)
            if rng.random() < _LUNCH_BREAK:
                lunch = start + rng.uniform(3.5, 5)
                spans += [(start, lunch, line), (lunch + rng.uniform(0.3, 1.0), end, line)]
            else:
                spans.append((start, end, line))
            if rng.random() < _EVENING:
                evening = max(rng.uniform(20, 22.5), end + 0.5)
                spans.append((evening, evening + rng.uniform(0.3, 1.5), "home"))
        elif not workday and rng.random() < _WEEKEND:
            start = rng.uniform(9, 21)
            spans.append((start, start + rng.uniform(0.3, 2.5), rng.choice(("home", "mobile"))))
        if person.on_call and rng.random() < _NIGHT_PAGE:
            start = rng.uniform(0, 5.5)
            spans.append((start, start + rng.uniform(0.25, 1.5), "home"))
        return [
            self._connection(
                person, place, self._line(rng, person, place, office, line), day, start, end
            )
            for start, end, line in spans
        ]

    @staticmethod
    def _line(
        rng: random.Random, person: Person, place: Site, office: Office | None, line: Line
    ) -> Address:
        """The address of a session: the office's NAT, home broadband, or a phone (also
        a traveller's evening at the hotel)."""
        if line == "office":
            assert office is not None
            return rng.choice(office.egress)
        if line == "home" and place is person.home:
            return person.home_address
        return _address(rng, place, "mobile")

    @staticmethod
    def _connection(
        person: Person, site: Site, address: Address, day: date, start_h: float, end_h: float
    ) -> Connection:
        midnight = datetime.combine(day, time(0), UTC) - timedelta(hours=site.utc_offset_h)
        return Connection(
            person,
            site,
            address,
            midnight + timedelta(hours=start_h),
            midnight + timedelta(hours=end_h),
        )


@cache
def workforce(seed: int) -> Workforce:
    """The one workforce of a seed, shared by the Appgate API and the web traffic."""
    return Workforce(seed)
