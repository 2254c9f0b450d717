"""Bad input fails before any request is sent, with a message naming the field and the limit.

Each Gcore case is also sent raw to the simulator, whose validation is generated from
Gcore's published OpenAPI document: both must reject it at the same field, so the
client's rules cannot drift from the schema.
"""

import json
from datetime import UTC, datetime
from importlib.resources import files

import httpx
import pytest

from waap_sessions.accesswatch import AccessWatchClient
from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.errors import InvalidParameterError
from waap_sessions.gcore import RequestFilters
from waap_sessions_tests.conftest import CONFIG, YESTERDAY, fast_settings

START = YESTERDAY.isoformat()
OK_HEX = "e7d705a3286e19ea42f587b344ee6865"

# (filter, bad value, the words of the limit that the message must carry)
GCORE_FILTER_CASES = [
    ("domains", [0], "greater than 0"),
    ("ips", ["1.2.3.4"] * 11, "at most 10 items"),
    ("ips", ["1.2.3.999"], "IPv4 or IPv6"),
    ("exclude_ips", ["not-an-ip"], "IPv4 or IPv6"),
    ("countries", ["DEU"], r"^\w{2}$"),
    ("exclude_countries", ["D"], r"^\w{2}$"),
    ("status_codes", [99], "greater than or equal to 100"),
    ("exclude_status_codes", [600], "less than or equal to 599"),
    ("http_methods", ["FETCH"], "'DELETE', 'GET'"),
    ("exclude_http_methods", ["get"], "'DELETE', 'GET'"),
    ("reference_ids", [OK_HEX.upper()], "^[a-f0-9]{32}$"),
    ("exclude_reference_ids", ["abc"], "^[a-f0-9]{32}$"),
    ("request_ids", [OK_HEX], "^[a-f0-9]{32}-[0-9]{6}$"),
    ("exclude_request_ids", [OK_HEX + "-12345"], "^[a-f0-9]{32}-[0-9]{6}$"),
    ("session_ids", [OK_HEX[:31]], "^[a-f0-9]{32}$"),
    ("exclude_session_ids", [OK_HEX + "0"], "^[a-f0-9]{32}$"),
    ("security_rule_names", ["x" * 101], "at most 100 characters"),
    ("exclude_security_rule_names", ["drop'; --"], "pattern"),
    ("decision", ["denied"], "'blocked', 'monitored', 'allowed' or 'passed'"),
    ("exclude_decision", ["challenged"], "'blocked', 'monitored', 'allowed' or 'passed'"),
    ("optional_action", ["redirect"], "'captcha' or 'challenge'"),
    ("exclude_optional_action", ["block"], "'captcha' or 'challenge'"),
    ("ja3", ["xyz"], "^[0-9a-fA-F]{32}$"),
    ("exclude_ja3", [OK_HEX] * 11, "at most 10 items"),
    ("ja4", ["t13d3113h2-e8f1e7e78f70-ce5650b735ce"], "pattern"),
    ("exclude_ja4", ["t13d3113h2_e8f1e7e78f70_ce5650b735c"], "pattern"),
    ("user_agent", ["u" * 301], "at most 300 characters"),
    ("exclude_user_agent", ["bot"] * 11, "at most 10 items"),
    ("user_agent_clients", ["c" * 51], "at most 50 characters"),
    ("exclude_user_agent_clients", ["Chrome"] * 11, "at most 10 items"),
    ("user_agent_devices", ["d" * 51], "at most 50 characters"),
    ("exclude_user_agent_devices", ["tv"] * 11, "at most 10 items"),
    ("tags", ["a", "b", "c", "d", "e", "f"], "at most 5 items"),
    ("exclude_tags", ["t" * 51], "at most 50 characters"),
    ("organizations", ["o" * 101], "at most 100 characters"),
    ("exclude_organizations", ["Acme"] * 11, "at most 10 items"),
]


@pytest.mark.parametrize(("field", "value", "limit"), GCORE_FILTER_CASES)
def test_bad_gcore_filters_fail_before_sending(simulator, gcore, field, value, limit):
    with pytest.raises(InvalidParameterError) as caught:
        gcore.iter_requests(START, **{field: value})

    assert caught.value.fields[0].split("[")[0] == field
    assert field in str(caught.value)
    assert limit in str(caught.value)
    assert simulator.request_log == []


@pytest.mark.parametrize(("field", "value", "limit"), GCORE_FILTER_CASES)
def test_gcore_itself_rejects_what_the_client_rejects(simulator, field, value, limit):
    """The same values, sent without the client, meet the schema-driven 422."""
    answer = httpx.get(
        simulator.base_url + "/waap/v1/analytics/requests",
        params={"start": START, field: value},
        headers={"Authorization": f"APIKey {CONFIG.gcore_api_key}"},
    )

    assert answer.status_code == 422
    assert field in {error["loc"][1] for error in answer.json()["errors"]}


@pytest.mark.parametrize(
    ("arguments", "field", "limit"),
    [
        ({"start": "2026-11-19T00:00:00"}, "start", "timezone"),
        ({"start": "yesterday"}, "start", "valid datetime"),
        ({"start": START, "end": "2026-11-18T00:00:00Z"}, "end", "must be after start"),
        ({"start": START, "ordering": "-nope"}, "ordering", "RequestSummary field"),
        ({"start": START, "limit": 500}, "limit", "Extra inputs are not permitted"),
        ({"start": START, "countrys": ["DE"]}, "countrys", "Extra inputs are not permitted"),
    ],
)
def test_bad_gcore_windows_fail_before_sending(simulator, gcore, arguments, field, limit):
    with pytest.raises(InvalidParameterError) as caught:
        gcore.iter_requests(**arguments)

    assert caught.value.fields == (field,)
    assert limit in str(caught.value)
    assert simulator.request_log == []


@pytest.mark.parametrize(
    ("ip", "domain_id", "field", "limit"),
    [
        ("300.1.1.1", 1, "ip", "IPv4 or IPv6"),
        ("", 1, "ip", "IPv4 or IPv6"),
        ("1.2.3.4", 0, "domain_id", "greater than 0"),
        ("1.2.3.4", -5, "domain_id", "greater than 0"),
    ],
)
def test_bad_ip_spotlight_queries_fail_before_sending(
    simulator, gcore, ip, domain_id, field, limit
):
    with pytest.raises(InvalidParameterError) as caught:
        gcore.get_top_sessions(ip, domain_id)

    assert caught.value.fields == (field,)
    assert limit in str(caught.value)
    assert simulator.request_log == []


@pytest.mark.parametrize("limit", [0, -1])
def test_bad_access_watch_limits_fail_before_sending(simulator, accesswatch, limit):
    with pytest.raises(InvalidParameterError, match="limit: Input should be greater than 0"):
        accesswatch.get_sessions(limit=limit)
    assert simulator.request_log == []


@pytest.mark.parametrize(
    ("arguments", "field", "limit"),
    [
        (
            {"username": "admin", "password": "x", "api_version": 19},
            "api_version",
            "greater than or equal to 20",
        ),
        ({"username": "admin", "password": "x", "device_id": "laptop-1"}, "device_id", "UUID"),
        ({"username": "admin"}, "(parameters)", "username and password, or a token"),
        ({"token": ""}, "(parameters)", "username and password, or a token"),
    ],
)
def test_bad_appgate_settings_fail_before_sending(simulator, arguments, field, limit):
    with pytest.raises(InvalidParameterError) as caught:
        AppgateSdpClient(fast_settings(simulator.appgate_base_url), **arguments)

    assert caught.value.fields == (field,)
    assert limit in str(caught.value)
    assert simulator.request_log == []


@pytest.mark.parametrize("key", ["", "   "])
def test_empty_api_keys_fail_at_once(key):
    with pytest.raises(InvalidParameterError, match="api_key: must not be empty"):
        AccessWatchClient(key)


def test_every_schema_filter_is_a_client_filter():
    """The client's filter set is exactly the schema's, less what paging owns."""
    schema = json.loads(
        files("waap_sessions.simulator").joinpath("gcore-waap-analytics-openapi.json").read_text()
    )
    parameters = schema["paths"]["/waap/v1/analytics/requests"]["get"]["parameters"]
    documented = {parameter["name"] for parameter in parameters} - {
        "start",
        "end",
        "limit",
        "offset",
    }

    assert documented == set(RequestFilters.model_fields)


def test_a_good_value_of_every_kind_is_accepted(simulator, gcore):
    """Validation must not reject what the API accepts: all filters at once, valid."""
    rows = gcore.iter_requests(
        datetime(2026, 11, 19, tzinfo=UTC),
        datetime(2026, 11, 19, 1, tzinfo=UTC),
        domains=[1],
        ips=["1.2.3.4", "2001:678:194::3c25:ddad"],
        countries="DE",
        status_codes=[403],
        http_methods=["GET", "HEAD"],
        reference_ids=[OK_HEX],
        request_ids=[OK_HEX + "-458959"],
        session_ids=[OK_HEX],
        security_rule_names=["SQL injection"],
        decision=["allowed", "blocked"],
        optional_action=["captcha"],
        ja3=OK_HEX.upper(),
        ja4=["t13d3113h2_e8f1e7e78f70_ce5650b735ce"],
        user_agent="Mozilla/5.0",
        user_agent_clients=["Chrome"],
        user_agent_devices=["mac"],
        tags=["evasiveclient"],
        organizations=["Acme Corp"],
        path=["/users/*/profile"],
        ordering="-requestTime",
    )
    assert list(rows) == []  # nothing matches all of that, but the API took it
    assert [entry.status for entry in simulator.request_log] == [200]
