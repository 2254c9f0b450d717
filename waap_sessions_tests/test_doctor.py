"""`waap-sessions doctor` against the simulator and real lakes: one line per check, no secret.

Each case configures the environment as a deployment would (the variables the code
location reads) and runs the command as a user does; its output and exit status are
what is checked.
"""

import socket

import pytest

from waap_sessions.cli import main
from waap_sessions.demo import simulator_environment
from waap_sessions.warehouse import connect
from waap_sessions_tests.conftest import CONFIG, lake_settings

SECRETS = (CONFIG.gcore_api_key, CONFIG.accesswatch_api_key, CONFIG.appgate_password)
NAMES = ("Gcore WAAP", "Access Watch", "Appgate SDP", "warehouse")


@pytest.fixture
def configured(simulator, tmp_path, monkeypatch):
    """Every API pointed at the simulator, the lake at a folder of its own not made yet."""
    for name, value in simulator_environment(simulator).items():
        monkeypatch.setenv(name, value)
    settings = lake_settings(tmp_path / "lake")
    monkeypatch.setenv("WAAP_DUCKLAKE_CATALOG", settings.catalog)
    monkeypatch.setenv("WAAP_DUCKLAKE_DATA_PATH", settings.data_path)
    return monkeypatch


def doctor(capsys, *arguments: str) -> tuple[int, dict[str, str]]:
    """The exit status, and each check's line by the check's name."""
    code = main(["doctor", *arguments])
    out, err = capsys.readouterr()
    assert err == ""
    assert not any(secret in out for secret in SECRETS)
    lines = out.splitlines()
    assert [line.split("  ")[0] for line in lines] == list(NAMES)
    return code, dict(zip(NAMES, lines, strict=True))


def status(line: str) -> str:
    return line[14:].split(":")[0]


def test_a_good_configuration_passes_every_check(configured, capsys, simulator, tmp_path):
    code, lines = doctor(capsys)

    assert code == 0
    assert [status(line) for line in lines.values()] == ["ok"] * 4
    assert "domains listed: 3" in lines["Gcore WAAP"]
    assert "logged in" in lines["Appgate SDP"]
    assert "no lake yet" in lines["warehouse"]
    assert not (tmp_path / "lake").exists(), "the doctor creates no lake"
    paths = {entry.path for entry in simulator.request_log}
    assert {"/waap/v1/domains", "/1.1/sessions", "/admin/login"} <= paths


def test_an_existing_lake_is_opened_for_writing(configured, capsys, tmp_path):
    connect(read_only=False, settings=lake_settings(tmp_path / "lake")).close()

    code, lines = doctor(capsys)

    assert code == 0
    assert "ok: opened for writing at catalog" in lines["warehouse"]


@pytest.mark.parametrize(
    ("variable", "value", "check", "advice"),
    [
        ("GCORE_API_KEY", "not-the-key", "Gcore WAAP", "check GCORE_API_KEY"),
        ("ACCESSWATCH_API_KEY", "not-the-key", "Access Watch", "check ACCESSWATCH_API_KEY"),
        ("APPGATE_PASSWORD", "not-the-password", "Appgate SDP", "check APPGATE_USERNAME"),
        ("GCORE_BASE_URL", "api.gcore.com", "Gcore WAAP", "GCORE_BASE_URL"),
        ("APPGATE_API_VERSION", "19", "Appgate SDP", "among APPGATE_URL, "),
    ],
)
def test_bad_credentials_or_settings_fail_their_check_only(
    configured, capsys, variable, value, check, advice
):
    configured.setenv(variable, value)

    code, lines = doctor(capsys)

    assert code == 1
    assert status(lines[check]) == "FAILED"
    assert advice in lines[check]
    assert all(status(line) == "ok" for name, line in lines.items() if name != check)
    assert "not-the-" not in "".join(lines.values())


def test_an_unreachable_api_fails_saying_where_to_look(configured, capsys):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    configured.setenv("ACCESSWATCH_BASE_URL", f"http://127.0.0.1:{port}/1.1")

    code, lines = doctor(capsys, "--timeout", "2")

    assert code == 1
    assert status(lines["Access Watch"]) == "FAILED"
    assert "got no complete answer" in lines["Access Watch"]
    assert "check ACCESSWATCH_BASE_URL, the network" in lines["Access Watch"]


def test_an_unconfigured_api_is_skipped(configured, capsys, simulator):
    configured.delenv("APPGATE_URL")
    configured.delenv("ACCESSWATCH_API_KEY")

    code, lines = doctor(capsys)

    assert code == 0
    assert lines["Appgate SDP"].endswith("skipped: not configured (APPGATE_URL is not set)")
    assert status(lines["Access Watch"]) == "skipped"
    assert {entry.path for entry in simulator.request_log} == {"/waap/v1/domains"}


def test_a_data_path_that_cannot_be_a_folder_fails(configured, capsys, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    configured.setenv("WAAP_DUCKLAKE_DATA_PATH", f"{tmp_path}/a-file/lake/")

    code, lines = doctor(capsys)

    assert code == 1
    assert status(lines["warehouse"]) == "FAILED"
    assert "WAAP_DUCKLAKE_DATA_PATH: Value error, must be a folder" in lines["warehouse"]
    assert lines["warehouse"].endswith("fix the variable it names")


def test_a_catalog_that_is_not_a_catalog_fails(configured, capsys, tmp_path):
    catalog = tmp_path / "catalog.sqlite"
    catalog.write_bytes(b"not a database " * 512)
    configured.setenv("WAAP_DUCKLAKE_CATALOG", f"sqlite:{catalog}")

    code, lines = doctor(capsys)

    assert code == 1
    assert status(lines["warehouse"]) == "FAILED"
    assert "Cannot open the lake" in lines["warehouse"]
    assert "check WAAP_DUCKLAKE_CATALOG" in lines["warehouse"]


def test_a_bad_catalog_setting_fails_naming_its_variable(configured, capsys):
    configured.setenv("WAAP_DUCKLAKE_CATALOG", "data/waap.duckdb")

    code, lines = doctor(capsys)

    assert code == 1
    assert "FAILED: Invalid warehouse settings: WAAP_DUCKLAKE_CATALOG: " in lines["warehouse"]
