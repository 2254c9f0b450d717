"""No secret in a log line, an exception, a traceback or a repr, on any path."""

import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import dagster as dg
import pytest

from waap_sessions import (
    AccessWatchResource,
    AppgateSdpResource,
    GcoreWaapResource,
    HttpSettings,
    LakeSettings,
    WarehouseResource,
)
from waap_sessions.accesswatch import ACCESSWATCH_BASE_URL
from waap_sessions.errors import InvalidParameterError, WaapSessionsError
from waap_sessions.models import validate_parameters
from waap_sessions.redact import mask
from waap_sessions.simulator import ScriptedFault
from waap_sessions_tests.conftest import CONFIG
from waap_sessions_tests.test_component import cause, load

TOKEN = "tok-5e1c7a9d"  # a marked secret: found anywhere, it leaked


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


def test_an_initialized_resource_shows_no_credential_in_its_repr():
    appgate = AppgateSdpResource(
        base_url=f"https://controller:8443/admin?code={TOKEN}",
        username=f"user-{TOKEN}",
        password=f"password-{TOKEN}",
        token=TOKEN,
    )
    warehouse = WarehouseResource(catalog_password=TOKEN)
    for resource in (appgate, warehouse):
        assert TOKEN not in repr(resource) + str(resource)
    assert "controller:8443/admin?code=***" in repr(appgate)


@pytest.mark.parametrize(
    ("resource", "field", "value"),
    [
        (GcoreWaapResource, "base_url", f"https://user:{TOKEN}@api.gcore.com"),
        (AccessWatchResource, "base_url", f"https://api.access.watch/?access_token={TOKEN}"),
        (WarehouseResource, "catalog", f"postgres:postgresql://waap:{TOKEN}@db/waap"),
        (WarehouseResource, "data_path", f"s3://bucket/waap/?X-Amz-Signature={TOKEN}"),
    ],
)
def test_a_credential_written_into_a_resource_is_refused_before_the_ui_shows_it(
    resource, field, value
):
    with pytest.raises(InvalidParameterError) as raised:
        resource(**{field: value, **({"api_key": "k"} if field == "base_url" else {})})
    assert raised.value.fields == (field,)
    assert "must not hold" in str(raised.value)
    assert "(got '" in str(raised.value)
    assert TOKEN not in str(raised.value) + "".join(traceback.format_exception(raised.value))


@pytest.mark.parametrize(
    "base_url",
    [
        f"https://user:{TOKEN}@api.gcore.com",
        f"https://api.gcore.com/?code={TOKEN}",
        f"https://api.gcore.com#{TOKEN}",
        f"api.gcore.com?key={TOKEN}",
    ],
)
def test_a_bad_base_url_names_the_setting_and_rule_and_masks_credentials(base_url):
    with pytest.raises(InvalidParameterError) as raised:
        validate_parameters(HttpSettings, {"base_url": base_url}, "Gcore settings")
    assert raised.value.fields == ("base_url",)
    assert "must be http(s)://host[:port][/path], without user:password@, query" in str(
        raised.value
    )
    assert TOKEN not in str(raised.value) + "".join(traceback.format_exception(raised.value))


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("catalog", f"postgres:postgresql://waap:{TOKEN}@db/waap", "password (user:password@)"),
        ("catalog", f"postgres:dbname=waap host=db sslpassword={TOKEN}", "(sslpassword=)"),
        ("catalog", f"md:waap?motherduck_token={TOKEN}", "must be 'sqlite:<file>'"),
        ("data_path", f"s3://bucket/waap/?X-Amz-Signature={TOKEN}", "(X-Amz-Signature=)"),
        ("data_path", f"https://account.example/waap/?sv=1&sig={TOKEN}", "(sig=)"),
    ],
)
def test_a_secret_bearing_lake_setting_is_refused_without_echoing_it(field, value, rule):
    with pytest.raises(InvalidParameterError) as raised:
        validate_parameters(LakeSettings, {field: value}, "warehouse settings")
    assert raised.value.fields == (field,)
    assert rule in str(raised.value)
    assert TOKEN not in str(raised.value)
    # Constructed directly, pydantic's own message quotes no input either.
    with pytest.raises(ValueError, match=field) as direct:
        LakeSettings(**{field: value})
    assert TOKEN not in str(direct.value)
    with pytest.raises(ValueError, match="base_url") as direct:
        HttpSettings(base_url=value)
    assert TOKEN not in str(direct.value)


def test_catalogs_and_data_paths_without_credentials_still_load():
    settings = LakeSettings(
        catalog="postgres:postgresql://waap@db:5432/waap?sslmode=require",
        data_path="s3://bucket/waap/",
    )
    assert settings.catalog.endswith("sslmode=require")


def test_mask_hides_userinfo_query_values_and_secret_parameters():
    assert mask(f"https://u:{TOKEN}@h/x?a={TOKEN}&b=1") == "https://***@h/x?a=***&b=***"
    assert mask(f"dbname=w password={TOKEN} host=h") == "dbname=w password=*** host=h"
    assert mask(f"md:w?motherduck_token={TOKEN}") == "md:w?motherduck_token=***"
    assert mask(f"https://h/x#access_token={TOKEN}") == "https://h/x#***"
    assert mask("https://api.gcore.com/waap") == "https://api.gcore.com/waap"


@pytest.mark.parametrize(
    ("resource", "variable"),
    [(GcoreWaapResource, "GCORE_BASE_URL"), (AccessWatchResource, "ACCESSWATCH_BASE_URL")],
)
def test_base_urls_reach_dagster_as_env_var_names_and_are_checked_at_load(
    monkeypatch, resource, variable
):
    monkeypatch.setenv(variable, "http://127.0.0.1:8080/api")
    configured = resource.from_env(api_key="k")
    # The UI shows the variable's name; a run reads the value when it starts.
    assert isinstance(configured.base_url, dg.EnvVar)
    assert configured.base_url.env_var_name == variable
    monkeypatch.setenv(variable, f"http://127.0.0.1:8080/api?token={TOKEN}")
    with pytest.raises(InvalidParameterError, match=variable) as raised:
        resource.from_env(api_key="k")
    assert TOKEN not in str(raised.value)


def test_the_component_reads_base_urls_through_env_vars_when_told(monkeypatch):
    monkeypatch.setenv("MY_GCORE_URL", "http://127.0.0.1:8080/api")
    _, defs, _ = load({"sources": ["gcore", "accesswatch"], "gcore_base_url_env": "MY_GCORE_URL"})
    assert isinstance(defs.resources["gcore"].base_url, dg.EnvVar)
    assert defs.resources["gcore"].base_url.env_var_name == "MY_GCORE_URL"
    assert defs.resources["accesswatch"].base_url == ACCESSWATCH_BASE_URL


def test_the_component_takes_a_base_url_or_its_variable_not_both():
    with pytest.raises(Exception, match="WaapSessionsComponent") as caught:
        load({"gcore_base_url": "https://api.gcore.com", "gcore_base_url_env": "GCORE_URL"})
    assert "gcore_base_url: give it or gcore_base_url_env, not both" in str(
        cause(caught.value, InvalidParameterError)
    )


def test_checking_base_url_variables_at_load_imports_no_http_stack(tmp_path):
    probe = """
import os, sys
os.environ["GCORE_BASE_URL"] = os.environ["ACCESSWATCH_BASE_URL"] = "http://127.0.0.1:9/api"
from waap_sessions.resources import AccessWatchResource, GcoreWaapResource
GcoreWaapResource.from_env(), AccessWatchResource.from_env()
print("httpx" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        # This checkout's package, whichever one is installed.
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "False"
