"""Partition keys, property-based: every key the definitions make parses back to its day
and domain, and every other text fails in one line naming it."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waap_sessions.errors import InvalidParameterError
from waap_sessions.partitions import parse_partition_key, partition_key

DAYS = st.dates(min_value=date(1970, 1, 1), max_value=date(9999, 12, 31))
DOMAIN_IDS = st.integers(min_value=1, max_value=10**18 - 1)


@given(DAYS, DOMAIN_IDS)
def test_every_key_made_parses_back(day: date, domain_id: int) -> None:
    assert parse_partition_key(str(partition_key(day, domain_id))) == (day, domain_id)


@given(st.text())
def test_any_text_parses_to_the_same_key_or_fails_in_one_line_naming_it(text: str) -> None:
    try:
        day, domain_id = parse_partition_key(text)
    except InvalidParameterError as error:
        message = str(error)
        assert "\n" not in message
        assert repr(text) in message
    else:
        assert str(partition_key(day, domain_id)) == text


@pytest.mark.parametrize(
    "key",
    [
        "2026-11-19",
        "2026-11-19|shop",
        "2026-11-19|0",
        "2026-11-19|-5",
        "2026-02-30|1001",
        "2026-11-19|1001|2",
        "2026-11-19|\u0661\u0660\u0660\u0661",  # Arabic-Indic digits
        " 2026-11-19|1001",
        "20261119|1001",
    ],
)
def test_a_key_that_is_no_day_of_a_domain_fails_naming_it(key: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_partition_key(key)

    assert repr(key) in str(caught.value)
    assert "'<UTC day>|<Gcore domain id>'" in str(caught.value)
