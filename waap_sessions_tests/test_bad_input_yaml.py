"""Bad input, the component's table: each bad defs.yaml value fails the load in one line.

The line names the attribute as the defs.yaml writes it (`http.max_retries`, not
pydantic's `http.HttpAttributes.max_retries` or its template-string branch), the value
and the rule; whichever stage refuses it (Dagster's schema, the component's own types,
or the limits the clients enforce).
"""

import traceback

import pytest
import yaml

from waap_sessions.errors import InvalidAttributesError, InvalidParameterError
from waap_sessions_tests.conftest import CONFIG
from waap_sessions_tests.test_component import load

# (defs.yaml attributes, the attribute named, the value as shown, words of the rule)
BAD_ATTRIBUTES = [
    ("sources: gcore", "sources", "'gcore'", "valid list"),
    ("sources: [gcore, fastly]", "sources", "'fastly'", "gcore"),
    ("sourcs: [gcore]", "sourcs", "['gcore']", "Extra inputs are not permitted"),
    ("start_date: '2026-13-01'", "start_date", "'2026-13-01'", "month value is outside"),
    ("pool: 5", "pool", "5", "valid string"),
    ("catalog: ''", "catalog", "''", "must be 'sqlite:<file>'"),
    ('data_path: "it\'s"', "data_path", "it's", "without quotes"),
    ("gcore_base_url: ftp://x", "gcore_base_url", "'ftp://x'", "must be http(s)://host"),
    ("accesswatch_base_url: api.access.watch", "accesswatch_base_url", "api.access", "http(s)"),
    (
        "gcore_base_url: https://api.gcore.com/?token=t0ken",
        "gcore_base_url",
        "'https://api.gcore.com/?token=***'",
        "without user:password@, query or fragment",
    ),
    ("appgate_api_version: x", "appgate_api_version", "'x'", "valid integer"),
    ("appgate_api_version: 19", "appgate_api_version", "19", "20 or more"),
    ("appgate_provider: ''", "appgate_provider", "", "must name the identity provider"),
    ("http: {max_retries: many}", "http.max_retries", "'many'", "valid integer"),
    ("http: {max_retires: 3}", "http.max_retires", "3", "Extra inputs are not permitted"),
    ("http: {read_timeout_s: 0}", "http.read_timeout_s", "0", "greater than 0"),
    ("gcore_http: {requests_per_second: 0}", "gcore_http.requests_per_second", "0", "greater"),
    ("appgate_http: {max_in_flight: 65}", "appgate_http.max_in_flight", "65", "less than or"),
    ("backfill: {max_partitions_per_run: x}", "backfill.max_partitions_per_run", "'x'", "integer"),
    ("backfill: {max_partitions_per_run: 0}", "backfill.max_partitions_per_run", "0", "1 or more"),
    ("automation: {backfill_days: -1}", "automation.backfill_days", "-1", "greater than or"),
    ("automation: {daily_cron: daily}", "automation.daily_cron", "'daily'", "cron string"),
    ("automation: {enabled: maybe}", "automation.enabled", "'maybe'", "valid boolean"),
    ("catalog_password_env: lower", "catalog_password_env", "", "name an environment variable"),
]


@pytest.mark.parametrize(("attributes", "named", "shown", "rule"), BAD_ATTRIBUTES)
def test_a_bad_defs_yaml_value_fails_in_one_line_naming_it(attributes, named, shown, rule):
    with pytest.raises(Exception) as caught:  # noqa: PT011 (Dagster wraps it; found below)
        load(yaml.safe_load(attributes))

    error = refusal_in(caught.value)
    assert "\n" not in str(error)
    assert str(error).startswith(f"Invalid WaapSessionsComponent attributes: {named}: "), error
    assert len(error.problems) == 1, error
    assert shown in str(error)
    assert rule in str(error)
    assert "t0ken" not in "".join(traceback.format_exception(caught.value)), "a token is masked"
    shown_traceback = "".join(traceback.format_exception(caught.value))
    assert "validation errors for" not in shown_traceback, "pydantic's multi-line dump is gone"


def test_a_secret_pasted_into_an_env_attribute_is_never_echoed():
    with pytest.raises(Exception) as caught:  # noqa: PT011 (Dagster wraps it; found below)
        load({"appgate_password_env": ["not", CONFIG.appgate_password]})

    error = refusal_in(caught.value)
    assert str(error).startswith("Invalid WaapSessionsComponent attributes: appgate_password_env")
    assert CONFIG.appgate_password not in "".join(traceback.format_exception(caught.value))


def refusal_in(error: BaseException) -> InvalidAttributesError | InvalidParameterError:
    """The package's own refusal in `error`'s chain, as a traceback shows it."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, InvalidAttributesError | InvalidParameterError):
            return current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    raise AssertionError(f"no refusal of this package in {error!r}")
