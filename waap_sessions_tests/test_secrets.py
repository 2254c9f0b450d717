"""No secret in a log line, an exception, a traceback or a repr, on any path."""

import logging
import traceback

import pytest

from waap_sessions import AccessWatchResource, AppgateSdpResource, GcoreWaapResource
from waap_sessions.errors import WaapSessionsError
from waap_sessions.simulator import ScriptedFault
from waap_sessions_tests.conftest import CONFIG


def test_no_secret_leaks_on_success_retry_or_failure(simulator, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = [CONFIG.gcore_api_key, CONFIG.accesswatch_api_key, CONFIG.appgate_password]
    shown: list[str] = []

    def attempt(action):
        try:
            action()
        except WaapSessionsError as error:
            shown.extend([str(error), repr(error), "".join(traceback.format_exception(error))])

    gcore = GcoreWaapResource(
        api_key=CONFIG.gcore_api_key, base_url=simulator.base_url, max_retries=1
    )
    accesswatch = AccessWatchResource(
        api_key=CONFIG.accesswatch_api_key, base_url=simulator.accesswatch_base_url, max_retries=1
    )
    appgate = AppgateSdpResource(
        base_url=simulator.appgate_base_url,
        username=CONFIG.appgate_username,
        password=CONFIG.appgate_password,
        max_retries=1,
    )
    with gcore.get_client() as g, accesswatch.get_client() as a, appgate.get_client() as p:
        shown.extend(repr(thing) for thing in (g, a, p, g.http, p.credentials, p.auth))
        # Success, then a retried failure, then failures that are not retried.
        attempt(lambda: list(g.iter_domains()))
        simulator.faults.script.extend([ScriptedFault(status=503), ScriptedFault(status=503)])
        attempt(lambda: list(g.iter_domains()))
        simulator.faults.script.append(ScriptedFault(status=401))
        attempt(lambda: a.get_sessions(limit=5))
        attempt(lambda: p.get_active_sessions_dashboard())
        simulator.revoke_appgate_tokens()
        attempt(lambda: p.get_active_sessions_dashboard())
        simulator.faults.script.extend([ScriptedFault(status=500), ScriptedFault(status=500)])
        attempt(lambda: p.get_active_sessions_dashboard())
        shown.extend(str(client.http.stats.snapshot()) for client in (g, a, p))

    with GcoreWaapResource(
        api_key="wrong-" + CONFIG.gcore_api_key, base_url=simulator.base_url
    ).get_client() as bad:
        attempt(lambda: list(bad.iter_domains()))

    assert len(shown) > 10
    assert any("retry 1 of 1" in record.getMessage() for record in caplog.records)
    everything = "\n".join(
        shown + [record.getMessage() for record in caplog.records] + [caplog.text]
    )
    for secret in secrets:
        assert secret not in everything


@pytest.mark.parametrize("field", ["api_key"])
def test_resource_config_shows_env_var_names_not_values(monkeypatch, field):
    monkeypatch.setenv("GCORE_API_KEY", CONFIG.gcore_api_key)
    resource = GcoreWaapResource.from_env()
    # Before Dagster resolves it, the field holds the variable's name, which the UI shows.
    assert CONFIG.gcore_api_key not in repr(getattr(resource, field))
    assert "GCORE_API_KEY" in repr(getattr(resource, field))
