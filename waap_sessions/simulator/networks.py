"""Client addresses drawn from the catalog's address space, and the lookup back from an IP.

An address is always drawn inside a network of the catalog, so its country, organisation,
ASN and hostname follow from where it lies, as a GeoIP and an ASN database would say.
`owner_of` answers that lookup for any IP, which the tests use to check every request.
"""

from __future__ import annotations

import bisect
import ipaddress
import random
from dataclasses import dataclass
from functools import cache

from waap_sessions.simulator import catalog
from waap_sessions.simulator.catalog import Country, Network

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_COUNTRY = {country.code: country for country in catalog.COUNTRIES}


@dataclass(frozen=True)
class Address:
    """A client IP with what the networks know about it (Access Watch's address object)."""

    ip: str
    country: Country
    organization: str
    asn: int
    hostname: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Owner:
    """Who holds a prefix: the answer of an ASN and GeoIP lookup."""

    network: IPNetwork
    country: str
    organization: str
    asn: int


def country(code: str) -> Country:
    """The catalog's country with this ISO code."""
    return _COUNTRY[code]


def _draw_ip(rng: random.Random, prefix: str) -> str:
    """A host address inside `prefix`, never its network or broadcast address."""
    network = ipaddress.ip_network(prefix)
    host_bits = network.max_prefixlen - network.prefixlen
    offset = rng.randrange(1, (1 << host_bits) - 1) if host_bits > 1 else 0
    return str(network.network_address + offset)


def _hostname(ip: str, suffix: str) -> str:
    return f"{ip.replace('.', '-').replace(':', '-')}.{suffix}"


def residential(rng: random.Random, home: Country, mobile: bool) -> Address:
    """An address of a person at home or on a phone, from their country's ISP."""
    if rng.random() < home.ipv6_share:
        ip = _draw_ip(rng, home.ipv6)
    else:
        ip = _draw_ip(rng, rng.choice(home.ipv4))
    slug = home.isp.split()[0].lower().strip(".,")
    flags = ("mobile",) if mobile else ("broadband",)
    return Address(ip, home, home.isp, home.asn, _hostname(ip, f"dyn.{slug}.net"), flags)


def business(rng: random.Random, home: Country) -> Address:
    """A fixed IPv4 address of an office line from the country's ISP, shared by everyone
    behind the office's NAT."""
    ip = _draw_ip(rng, rng.choice(home.ipv4))
    slug = home.isp.split()[0].lower().strip(".,")
    return Address(
        ip, home, home.isp, home.asn, _hostname(ip, f"static.{slug}.net"), ("corporate",)
    )


def hosted(rng: random.Random, network: Network, flags: tuple[str, ...]) -> Address:
    """An address of a server in a hosting or crawler network."""
    if network.ipv6 and rng.random() < 0.2:
        ip = _draw_ip(rng, network.ipv6)
    else:
        ip = _draw_ip(rng, rng.choice(network.ipv4))
    return Address(
        ip,
        country(network.country),
        network.organization,
        network.asn,
        _hostname(ip, network.hostname_suffix),
        flags,
    )


def random_hosting(rng: random.Random) -> Network:
    """A hosting region, the big clouds more often than the small providers."""
    return rng.choices(catalog.HOSTING, catalog.HOSTING_WEIGHTS)[0]


@cache
def _owners() -> tuple[list[tuple[int, int]], list[Owner]]:
    owners = [
        Owner(ipaddress.ip_network(prefix), home.code, home.isp, home.asn)
        for home in catalog.COUNTRIES
        for prefix in (*home.ipv4, home.ipv6)
    ]
    networks = (*catalog.HOSTING, *catalog.CRAWLER_NETWORKS.values())
    owners += [
        Owner(ipaddress.ip_network(prefix), network.country, network.organization, network.asn)
        for network in networks
        for prefix in (*network.ipv4, *((network.ipv6,) if network.ipv6 else ()))
    ]
    owners.sort(key=lambda owner: (owner.network.version, int(owner.network.network_address)))
    starts: list[tuple[int, int]] = [
        (owner.network.version, int(owner.network.network_address)) for owner in owners
    ]
    return starts, owners


def owners() -> list[Owner]:
    """Every prefix of the catalog with its holder, in address order."""
    return list(_owners()[1])


def owner_of(ip: str) -> Owner | None:
    """Who holds `ip` in the catalog, or None for an address outside it."""
    address = ipaddress.ip_address(ip)
    starts, table = _owners()
    index = bisect.bisect_right(starts, (address.version, int(address))) - 1
    if index >= 0 and address in table[index].network:
        return table[index]
    return None
