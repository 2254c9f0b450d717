"""The Dagster resources: configured from the environment, they hand out working clients."""

import dagster as dg
import pytest

from waap_sessions import AccessWatchResource, AppgateSdpResource, GcoreWaapResource
from waap_sessions.accesswatch import ACCESSWATCH_BASE_URL
from waap_sessions.gcore import GCORE_BASE_URL
from waap_sessions_tests.conftest import CONFIG


@pytest.fixture
def simulator_env(monkeypatch, simulator):
    variables = {
        "GCORE_API_KEY": CONFIG.gcore_api_key,
        "GCORE_BASE_URL": simulator.base_url,
        "ACCESSWATCH_API_KEY": CONFIG.accesswatch_api_key,
        "ACCESSWATCH_BASE_URL": simulator.accesswatch_base_url,
        "APPGATE_URL": simulator.appgate_base_url,
        "APPGATE_USERNAME": CONFIG.appgate_username,
        "APPGATE_PASSWORD": CONFIG.appgate_password,
        "APPGATE_PROVIDER": CONFIG.appgate_provider,
        "APPGATE_API_VERSION": "22",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("APPGATE_TOKEN", raising=False)
    return variables


def test_resources_from_the_environment_work_in_a_dagster_run(simulator_env, simulator):
    seen = {}

    @dg.asset
    def probe(
        gcore: GcoreWaapResource, accesswatch: AccessWatchResource, appgate: AppgateSdpResource
    ) -> None:
        with gcore.get_client() as client:
            seen["domains"] = [domain.id for domain in client.iter_domains()]
        with accesswatch.get_client() as client:
            seen["sessions"] = len(client.get_sessions(limit=5))
        with appgate.get_client() as client:
            seen["active"] = client.get_active_sessions_dashboard().total_count

    connected_before = len(simulator.workforce.active(simulator.now()))
    result = dg.materialize(
        [probe],
        resources={
            "gcore": GcoreWaapResource.from_env(),
            "accesswatch": AccessWatchResource.from_env(),
            "appgate": AppgateSdpResource.from_env(),
        },
    )

    assert result.success
    assert seen["domains"] == [domain.id for domain in simulator.dataset.domains]
    assert seen["sessions"] == 5
    connected_after = len(simulator.workforce.active(simulator.now()))
    assert seen["active"] in (connected_before, connected_after)
    accepts = {entry.accept for entry in simulator.request_log if entry.path.startswith("/admin")}
    assert accepts == {"application/vnd.appgate.peer-v22+json"}


def test_a_missing_secret_fails_the_run_naming_the_variable(monkeypatch):
    monkeypatch.delenv("GCORE_API_KEY", raising=False)

    @dg.asset
    def needs_gcore(gcore: GcoreWaapResource) -> None:
        gcore.get_client()

    with pytest.raises(dg.DagsterInvalidConfigError, match="GCORE_API_KEY"):
        dg.materialize([needs_gcore], resources={"gcore": GcoreWaapResource.from_env()})


def test_base_urls_default_to_the_vendors(monkeypatch):
    monkeypatch.delenv("GCORE_BASE_URL", raising=False)
    monkeypatch.delenv("ACCESSWATCH_BASE_URL", raising=False)
    assert GcoreWaapResource.from_env().base_url == GCORE_BASE_URL == "https://api.gcore.com"
    assert AccessWatchResource.from_env().base_url == ACCESSWATCH_BASE_URL


def test_a_bad_setting_fails_before_any_request(simulator):
    resource = GcoreWaapResource(api_key="k", base_url=simulator.base_url, max_retries=-1)
    with pytest.raises(ValueError, match="max_retries: Input should be greater than or equal to 0"):
        resource.get_client()
    assert simulator.request_log == []


def test_appgate_needs_a_way_in(monkeypatch):
    for name in ("APPGATE_USERNAME", "APPGATE_PASSWORD", "APPGATE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    resource = AppgateSdpResource(base_url="https://controller.example.com:8443/admin")
    with pytest.raises(ValueError, match="username and password, or a token"):
        resource.get_client()


def test_a_non_numeric_appgate_version_names_the_variable(monkeypatch):
    monkeypatch.setenv("APPGATE_API_VERSION", "v23")
    with pytest.raises(ValueError, match="APPGATE_API_VERSION: must be a whole number"):
        AppgateSdpResource.from_env()
