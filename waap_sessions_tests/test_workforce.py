"""Appgate's own population (`simulator/workforce.py`): who is connected, when, from where."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waap_sessions.enumerations import APPGATE_SUPPORT_STATUSES
from waap_sessions.simulator.appgate import dashboard
from waap_sessions.simulator.networks import owner_of
from waap_sessions.simulator.workforce import (
    RELEASES,
    Connection,
    Site,
    Workforce,
    workforce,
)

SEEDS = (1, 7, 13)
WEDNESDAY = datetime(2026, 11, 18, tzinfo=UTC)
SUNDAY = datetime(2026, 11, 22, tzinfo=UTC)
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def key(connection: Connection) -> tuple[int, str, datetime, datetime]:
    return (connection.person.id, connection.address.ip, connection.start, connection.end)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), at=MOMENTS)
def test_the_dashboard_adds_up_and_shows_only_vpn_clients(seed: int, at: datetime) -> None:
    board = dashboard(workforce(seed).active(at))

    total = board["totalCount"]
    assert total > 0  # the headless servers never disconnect
    assert sum(g["sessionCount"] for g in board["geoIpData"]) == total
    assert sum(v["sessionCount"] for v in board["versions"].values()) == total
    assert all(0 < len(g["ips"]) <= g["sessionCount"] for g in board["geoIpData"])
    for version, entry in board["versions"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+-release-\d+", version)
        assert entry["supportStatus"] in APPGATE_SUPPORT_STATUSES
    locations = [(g["latitude"], g["longitude"]) for g in board["geoIpData"]]
    assert len(locations) == len(set(locations))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), at=MOMENTS)
def test_the_same_seed_and_moment_give_the_same_sessions(seed: int, at: datetime) -> None:
    first = Workforce(seed)
    first.active(at - timedelta(days=3))  # what was asked before changes nothing
    answer = sorted(map(key, first.active(at)))

    assert sorted(map(key, Workforce(seed).active(at))) == answer
    assert sorted(map(key, Workforce(seed + 1).active(at))) != answer


@pytest.mark.parametrize("seed", SEEDS)
def test_a_minute_later_most_sessions_are_still_there(seed: int) -> None:
    people = Workforce(seed)
    at = WEDNESDAY + timedelta(hours=10)
    now, later = (
        set(map(key, people.active(at))),
        set(map(key, people.active(at + timedelta(minutes=1)))),
    )

    assert len(now) > 100
    assert len(now ^ later) < len(now) / 20


def connected_from_home_site(people: Workforce, site: Site, local: datetime) -> int:
    """How many of the people living at `site` are connected at a local time there."""
    at = local - timedelta(hours=site.utc_offset_h)
    return sum(1 for c in people.active(at) if c.person.home is site)


@pytest.mark.parametrize("seed", SEEDS)
def test_people_connect_in_their_local_working_hours(seed: int) -> None:
    people = Workforce(seed)
    residents = Counter(p.home for p in people.people if p.role != "service")
    quiet_times = (WEDNESDAY + timedelta(hours=3), SUNDAY + timedelta(hours=11))

    def connected(sites: list[Site], local: datetime) -> int:
        return sum(connected_from_home_site(people, site, local) for site in sites)

    # Everyone together, each at their own local time; then each large office alone.
    for sites in [list(residents)] + [[site] for site, n in residents.items() if n >= 30]:
        late_morning = connected(sites, WEDNESDAY + timedelta(hours=11))
        assert late_morning > sum(residents[site] for site in sites) / 2
        for quiet in quiet_times:
            assert connected(sites, quiet) < late_morning / 8, (sites[0].city, quiet)


def test_most_sessions_run_the_two_newest_releases_and_contractors_lag() -> None:
    newest_two = sorted({minor(r.version) for r in RELEASES}, reverse=True)[:2]
    sessions = [
        c
        for seed in SEEDS
        for hour in (9, 13, 16)
        for c in Workforce(seed).active(WEDNESDAY + timedelta(hours=hour))
    ]
    current = sum(1 for c in sessions if minor(c.person.release.version) in newest_two)
    support = Counter(c.person.release.support for c in sessions)

    assert current > 0.75 * len(sessions)
    assert support["partial"] > 0.03 * len(sessions)
    assert support["none"] > 0

    def lagging(role: str) -> float:
        of_role = [c for c in sessions if c.person.role == role]
        return sum(1 for c in of_role if c.person.release.support != "full") / len(of_role)

    assert lagging("contractor") > 3 * lagging("employee")


@pytest.mark.parametrize("seed", SEEDS)
def test_an_office_shares_its_egress_addresses(seed: int) -> None:
    people = Workforce(seed)
    egress = {address.ip: office for office in people.offices for address in office.egress}
    assert {a.ip for a in people.office_egress} == set(egress)
    assert all(a.flags == ("corporate",) for a in people.office_egress)

    sessions = people.active(WEDNESDAY + timedelta(hours=10))
    by_ip = Counter(c.address.ip for c in sessions if c.address.ip in egress)

    assert max(by_ip.values()) >= 5  # everyone behind the NAT shares a few addresses
    assert all(egress[c.address.ip].site is c.site for c in sessions if c.address.ip in egress)
    # Contractors never use an office; employees also connect from home.
    assert not any(c.address.ip in egress for c in sessions if c.person.role == "contractor")
    assert any(c.address.ip not in egress for c in sessions if c.person.role == "employee")


@pytest.mark.parametrize("seed", SEEDS)
def test_every_address_lies_in_its_locations_country(seed: int) -> None:
    people = Workforce(seed)
    sessions = [
        c
        for hours in range(0, 7 * 24, 5)
        for c in people.active(WEDNESDAY + timedelta(hours=hours))
    ]

    for connection in sessions:
        owner = owner_of(connection.address.ip)
        assert owner is not None
        assert owner.country == connection.address.country.code == connection.site.country
    assert any(":" in c.address.ip for c in sessions)  # home lines have IPv6 too
