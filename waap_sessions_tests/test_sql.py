"""SQL literals: DuckDB reads back exactly the value written, whatever the text holds."""

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waap_sessions.sql import literal

BIGINT = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Any text DuckDB can hold: everything but NUL, quotes and backslashes included.
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))
DAYS = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@pytest.fixture(scope="module")
def connection():
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection


def read_back(connection: duckdb.DuckDBPyConnection, value: object) -> object:
    row = connection.execute(f"SELECT {literal(value)}").fetchone()
    assert row is not None
    return row[0]


@given(value=BIGINT | TEXT | DAYS | MOMENTS | st.none() | st.booleans())
def test_a_literal_reads_back_as_the_value(connection, value):
    assert read_back(connection, value) == value


@given(values=st.lists(BIGINT) | st.lists(TEXT))
def test_a_list_literal_reads_back_as_the_list(connection, values):
    assert read_back(connection, values) == values


def test_a_literal_is_typed_as_the_column_it_fills(connection):
    row = connection.execute(
        f"SELECT typeof({literal(date(2026, 11, 19))}), "
        f"typeof({literal(datetime(2026, 11, 19, 1, tzinfo=UTC))})"
    ).fetchone()

    assert row == ("DATE", "TIMESTAMP WITH TIME ZONE")


def test_a_timestamp_keeps_its_instant_whatever_its_zone(connection):
    moment = datetime(2026, 11, 19, 23, 30, tzinfo=timezone(timedelta(hours=-5)))

    assert read_back(connection, moment) == moment


def test_a_path_reads_back_as_its_text(connection):
    path = Path("/tmp/it's here/waap-requests.json")

    assert read_back(connection, path) == str(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\x00b", "cannot hold a NUL"),
        (datetime(2026, 11, 19, 1), "needs a time zone"),
        (1.5, "no SQL literal for float"),
    ],
)
def test_a_value_that_cannot_be_written_exactly_is_refused(value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        literal(value)
