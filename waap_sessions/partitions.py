"""The request tables' partitions: one UTC day of one Gcore domain.

The days start at a configurable date (`WAAP_START_DATE`), so the UI counts as missing
only days the install was meant to load. The domains are dynamic partitions the domain
sensor adds, named by the domain's id, shared by every code location on the instance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from waap_sessions.errors import InvalidParameterError

DOMAINS_PARTITIONS_NAME = "gcore_domains"
# `<YYYY-MM-DD>|<domain id>`: ASCII digits only (`\d` takes any script's), ids from 1.
_PARTITION_KEY = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\|([1-9][0-9]{0,17})")
domain_partitions = dg.DynamicPartitionsDefinition(name=DOMAINS_PARTITIONS_NAME)


def default_start_date(backfill_days: int, today: date | None = None) -> date:
    """The first day the domain sensor loads for a new domain: `backfill_days` before today."""
    return (today or datetime.now(UTC).date()) - timedelta(days=backfill_days)


def request_partitions(start_date: date) -> dg.MultiPartitionsDefinition:
    """UTC days from `start_date` up to and including today (end_offset=1), times domains."""
    return dg.MultiPartitionsDefinition(
        {
            "date": dg.DailyPartitionsDefinition(
                start_date=start_date.isoformat(), end_offset=1, timezone="UTC"
            ),
            "domain": domain_partitions,
        }
    )


def partition_key(day: date | str, domain: int | str) -> dg.MultiPartitionKey:
    """The key `<date>|<domain id>` of one day of one domain."""
    day_key = day if isinstance(day, str) else day.isoformat()
    return dg.MultiPartitionKey({"date": day_key, "domain": str(domain)})


def parse_partition_key(key: str) -> tuple[date, int]:
    """The UTC day and domain id of a key `<date>|<domain id>`.

    Any other key (a domain partition added by hand as `shop`, say) fails naming it,
    before anything is asked of an API.
    """
    match = _PARTITION_KEY.fullmatch(key)
    if match:
        try:
            return date.fromisoformat(match[1]), int(match[2])
        except ValueError:
            pass  # a day that does not exist, as 2026-02-30
    raise InvalidParameterError(
        "partition key",
        [
            (
                "partition key",
                f"must be '<UTC day>|<Gcore domain id>', as '2026-11-19|1001' (got {key!r})",
            )
        ],
    )


def days_up_to(moment: datetime, count: int, start_date: date) -> list[str]:
    """The date keys of the last `count` UTC days up to `moment`'s, oldest first.

    Days before `start_date`, the first date partition, are left out.
    """
    last = moment.astimezone(UTC).date()
    days = (last - timedelta(days=back) for back in reversed(range(count)))
    return [day.isoformat() for day in days if day >= start_date]


def keys_of(days: Sequence[str], domains: Sequence[str]) -> list[dg.MultiPartitionKey]:
    """Every partition of `days` times `domains`, domain by domain."""
    return [partition_key(day, domain) for domain in domains for day in days]
