"""The Appgate SDP client: login, token reuse and renewal, the dashboard."""

import time

import httpx
import pytest

from waap_sessions.appgate import AppgateSdpClient
from waap_sessions.errors import AuthenticationError, NotAcceptableError
from waap_sessions.simulator import ScriptedFault, Simulator
from waap_sessions_tests.conftest import CONFIG, fast_settings

LOGIN = "/admin/login"
DASHBOARD = "/admin/stats/active-sessions/dashboard"


def paths(simulator):
    return [entry.path for entry in simulator.request_log]


def client_for(simulator, **overrides):
    arguments = {
        "username": CONFIG.appgate_username,
        "password": CONFIG.appgate_password,
        "provider": CONFIG.appgate_provider,
        **overrides,
    }
    return AppgateSdpClient(fast_settings(simulator.appgate_base_url), **arguments)


def test_the_dashboard_counts_the_workforce_connected_now(simulator, appgate):
    before = len(simulator.workforce.active(simulator.now()))
    dashboard = appgate.get_active_sessions_dashboard()
    after = len(simulator.workforce.active(simulator.now()))

    assert dashboard.total_count in (before, after)
    assert dashboard.total_count > 0
    assert sum(g.session_count or 0 for g in dashboard.geo_ip_data) == dashboard.total_count
    assert sum(v.session_count or 0 for v in dashboard.versions.values()) == dashboard.total_count
    assert {v.support_status for v in dashboard.versions.values()} <= {"full", "partial", "none"}
    assert all(len(g.country_code or "") == 2 for g in dashboard.geo_ip_data)


def test_one_login_serves_many_calls(simulator, appgate):
    for _ in range(3):
        appgate.get_active_sessions_dashboard()

    assert paths(simulator) == [LOGIN, DASHBOARD, DASHBOARD, DASHBOARD]
    assert appgate.auth.logins == 1


def test_an_expired_token_leads_to_a_new_login():
    config = CONFIG.model_copy(update={"appgate_token_ttl_s": 1.0})
    with Simulator(config) as short_lived, client_for(short_lived) as client:
        client.get_active_sessions_dashboard()
        time.sleep(1.2)
        client.get_active_sessions_dashboard()

        assert client.auth.logins == 2
        assert [e.status for e in short_lived.request_log if e.path == DASHBOARD] == [200, 200]


def test_a_revoked_token_gets_one_more_login(simulator, appgate):
    appgate.get_active_sessions_dashboard()
    simulator.revoke_appgate_tokens()

    appgate.get_active_sessions_dashboard()

    assert paths(simulator) == [LOGIN, DASHBOARD, DASHBOARD, LOGIN, DASHBOARD]
    assert [entry.status for entry in simulator.request_log][2] == 401
    assert appgate.auth.logins == 2


def test_a_ready_made_token_is_used_without_a_login(simulator):
    accept = f"application/vnd.appgate.peer-v{CONFIG.appgate_api_versions[-1]}+json"
    login = httpx.post(
        simulator.appgate_base_url + "/login",
        headers={"Accept": accept},
        json={
            "providerName": CONFIG.appgate_provider,
            "username": CONFIG.appgate_username,
            "password": CONFIG.appgate_password,
            "deviceId": "4c07bc67-57e3-4115-ba4c-6f8e6f3f5a4e",
        },
    )
    simulator.clear_log()

    with client_for(simulator, username=None, password=None, token=login.json()["token"]) as client:
        assert client.get_active_sessions_dashboard().total_count
        assert client.auth.logins == 0
    assert paths(simulator) == [DASHBOARD]


def test_a_bad_ready_made_token_without_a_login_is_a_clear_error(simulator):
    client = client_for(simulator, username=None, password=None, token="stale")
    with client, pytest.raises(AuthenticationError, match="Token error"):
        client.get_active_sessions_dashboard()
    assert paths(simulator) == [DASHBOARD]


def test_wrong_credentials_are_not_retried(simulator):
    client = client_for(simulator, password="wrong")
    with client, pytest.raises(AuthenticationError) as caught:
        client.get_active_sessions_dashboard()
    assert caught.value.path == LOGIN
    assert paths(simulator) == [LOGIN]


def test_a_failed_login_is_retried_like_any_request(simulator, appgate):
    simulator.faults.script.append(ScriptedFault(status=503))
    assert appgate.get_active_sessions_dashboard().total_count
    assert [e.status for e in simulator.request_log] == [503, 200, 200]


def test_an_unknown_api_version_is_refused_with_406(simulator):
    with (
        client_for(simulator, api_version=99) as client,
        pytest.raises(NotAcceptableError) as caught,
    ):
        client.get_active_sessions_dashboard()
    assert caught.value.status == 406


def test_the_device_id_is_stable(simulator):
    first = client_for(simulator)
    second = client_for(simulator)
    first.get_active_sessions_dashboard()
    second.get_active_sessions_dashboard()
    assert len(simulator.appgate_device_ids) == 2
    assert len(set(simulator.appgate_device_ids)) == 1


def test_dashboard_drift_is_counted(simulator, appgate):
    simulator.faults.extra_fields = {"sessionKind": "vpn"}
    dashboard = appgate.get_active_sessions_dashboard()

    assert appgate.schema_drift == {"GeoIpData.sessionKind": len(dashboard.geo_ip_data)}
    assert sum(g.session_count or 0 for g in dashboard.geo_ip_data) == dashboard.total_count
