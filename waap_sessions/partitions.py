"""The request tables' partitions: one UTC day of one Gcore domain.

The days start at a configurable date (`WAAP_START_DATE`), so the UI counts as missing
only days the install was meant to load. The domains are dynamic partitions the domain
sensor adds, named by the domain's id, shared by every code location on the instance.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from waap_sessions.errors import InvalidParameterError

DOMAINS_PARTITIONS_NAME = "gcore_domains"
# `<date>|<domain id>`, in ASCII digits: a day of the calendar and a positive id that
# fits a BIGINT (at most 18 digits).
_PARTITION_KEY = re.compile(r"(?P<day>\d{4}-\d{2}-\d{2})\|(?P<domain>[1-9]\d{0,17})", re.ASCII)
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

    Only the form `partition_key` writes is taken, so a key names one partition only:
    `date.fromisoformat` and `int` alone would also read `20261119`, `2026-W47-4`, `+7`
    or `07` as a partition that Dagster knows under another key.
    """
    found = _PARTITION_KEY.fullmatch(key)
    if found is not None:
        with contextlib.suppress(ValueError):  # a day outside the calendar: 2026-02-30
            return date.fromisoformat(found["day"]), int(found["domain"])
    raise InvalidParameterError(
        "partition key",
        [("partition", f"must be '<YYYY-MM-DD>|<domain id>', as '2026-11-19|13183' (got {key!r})")],
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
