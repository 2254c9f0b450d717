"""The `waap-sessions` command line: every option explained, every bad flag refused in one line.

A bad value must stop the command before it starts anything: one line on stderr naming
the flag, the value and the rule, exit status 2, no traceback, no request sent, no lake
created.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from waap_sessions.cli import build_parser, main
from waap_sessions.demo import simulator_environment
from waap_sessions_tests.conftest import CONFIG

CLI = Path(sys.executable).with_name("waap-sessions")


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, found by walking the parser tree."""
    # argparse keeps its actions in `_actions`: the only way to walk a parser's tree.
    (subcommands,) = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    return dict(subcommands.choices)


def help_of_each_option(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The text `--help` prints for each option, by its first flag, on one line."""
    text = " ".join(parser.format_help().split("options:", 1)[1].split())
    options = [action for action in parser._actions if action.option_strings]
    starts, position = [], 0
    for action in options:  # in the order --help lists them
        flag = re.compile(rf"(?:^| ){re.escape(action.option_strings[0])}[ ,]")
        found = flag.search(text, position)
        assert found, f"{action.option_strings[0]} is not in the help"
        starts.append(position := found.start())
    ends = [*starts[1:], len(text)]
    return {
        action.option_strings[0]: text[start:end]
        for action, start, end in zip(options, starts, ends, strict=True)
    }


SUBCOMMANDS = sorted(subcommand_parsers())


def test_the_commands_are_those_the_readme_lists():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = set(re.findall(r"^\| `waap-sessions (\w+)", readme, flags=re.MULTILINE))
    assert listed == set(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_option_has_help_with_its_default(command):
    parser = subcommand_parsers()[command]
    shown = help_of_each_option(parser)
    options = [action for action in parser._actions if action.option_strings]

    assert options, f"{command} has no options to check"
    for action in options:
        flag = action.option_strings[0]
        if action.default == argparse.SUPPRESS:  # --help itself
            continue
        assert action.help, f"{command} {flag} has no help"
        line = shown[flag]
        if action.required:
            assert "(required)" in line, line
        elif action.default is None:
            # No default value: the help says in words what happens without the option.
            assert "default: " in line, line
        else:
            assert f"(default: {action.default})" in line, line


def test_simulate_serves_the_scripted_answers_its_help_names():
    server = subprocess.Popen(
        [str(CLI), "simulate", "--port", "0", "--script", "503, 429", "--error-status", "502"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        gcore_line = server.stdout.readline()
        base_url = gcore_line.split()[2]
        key = CONFIG.gcore_api_key
        statuses = [
            httpx.get(
                f"{base_url}/waap/v1/domains", headers={"Authorization": f"APIKey {key}"}
            ).status_code
            for _ in range(3)
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert statuses == [503, 429, 200]


# (arguments, the flag, the value, words of the rule)
BAD_FLAGS = [
    (["simulate", "--port", "70000"], "--port", "70000", "from 0 to 65535"),
    (["simulate", "--port", "-1"], "--port", "-1", "from 0 to 65535"),
    (["simulate", "--port", "http"], "--port", "http", "from 0 to 65535"),
    (["simulate", "--port", "8\u00b2"], "--port", "8\u00b2", "from 0 to 65535"),
    (["simulate", "--seed", "seven"], "--seed", "seven", "valid integer"),
    (["simulate", "--domains", "0"], "--domains", "0", "greater than or equal to 1"),
    (["simulate", "--domains", "51"], "--domains", "51", "less than or equal to 50"),
    (["simulate", "--days", "-1"], "--days", "-1", "greater than or equal to 0"),
    (["simulate", "--days", "400"], "--days", "400", "less than or equal to 366"),
    (["simulate", "--requests-per-day", "0"], "--requests-per-day", "0", "greater than or"),
    (["simulate", "--requests-per-day", "1.5"], "--requests-per-day", "1.5", "valid integer"),
    (["simulate", "--now", "2026-11-20T12:00:00"], "--now", "2026-11-20T12:00:00", "timezone"),
    (["simulate", "--now", "tomorrow"], "--now", "tomorrow", "valid datetime"),
    (["simulate", "--count-mode", "all"], "--count-mode", "all", "invalid choice"),
    (["simulate", "--latency-ms", "-5"], "--latency-ms", "-5", "greater than or equal to 0"),
    (["simulate", "--latency-ms", "slow"], "--latency-ms", "slow", "must be a number"),
    (["simulate", "--latency-ms", "nan"], "--latency-ms", "nan", "greater than or equal to 0"),
    (["simulate", "--error-rate", "1.5"], "--error-rate", "1.5", "less than or equal to 1"),
    (["simulate", "--error-rate", "-0.1"], "--error-rate", "-0.1", "greater than or equal to 0"),
    (["simulate", "--error-status", "200"], "--error-status", "200", "greater than or equal to"),
    (["simulate", "--rate-limit", "0"], "--rate-limit", "0", "greater than 0"),
    (["simulate", "--truncate-rate", "2"], "--truncate-rate", "2", "less than or equal to 1"),
    (["simulate", "--arrivals-per-request", "-3"], "--arrivals-per-request", "-3", "greater"),
    (["simulate", "--script", "503,abc"], "--script", "abc", "valid integer"),
    (["simulate", "--script", "503,302"], "--script", "302", "greater than or equal to 400"),
    (["demo", "--seed", "x"], "--seed", "x", "valid integer"),
    (["dev", "--port", "0"], "--port", "0", "from 1 to 65535"),
    (["dev", "--port", "65536"], "--port", "65536", "from 1 to 65535"),
    (["dev", "--seed", "1e3"], "--seed", "1e3", "valid integer"),
    (["doctor", "--timeout", "0"], "--timeout", "0", "above 0, at most 300"),
    (["doctor", "--timeout", "301"], "--timeout", "301", "above 0, at most 300"),
    (["doctor", "--timeout", "soon"], "--timeout", "soon", "above 0, at most 300"),
    (["migrate", "--from", "no/such.duckdb"], "--from", "no/such.duckdb", "existing DuckDB file"),
]


@pytest.mark.parametrize(("arguments", "flag", "value", "rule"), BAD_FLAGS)
def test_a_bad_flag_is_refused_in_one_line_before_anything_starts(
    simulator, tmp_path, monkeypatch, capsys, arguments, flag, value, rule
):
    # Every API and the lake configured, so a command that did start would be seen.
    for name, setting in simulator_environment(simulator).items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv("WAAP_DUCKLAKE_CATALOG", f"sqlite:{tmp_path}/lake/catalog.sqlite")
    monkeypatch.setenv("WAAP_DUCKLAKE_DATA_PATH", f"{tmp_path}/lake/data/")

    with pytest.raises(SystemExit) as exited:
        main(arguments)

    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert f"argument {flag}: " in err
    assert repr(value) in err
    assert rule in err
    assert simulator.request_log == []
    assert not (tmp_path / "lake").exists()


def test_the_console_script_refuses_port_70000_without_listening():
    """Port 70000 used to wrap around to 4464; the real script now stops, saying why."""
    finished = subprocess.run(
        [str(CLI), "simulate", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 2
    assert finished.stdout == ""
    assert finished.stderr == (
        "waap-sessions simulate: error: argument --port: must be a whole number from 0 to "
        "65535 (got '70000') (see waap-sessions simulate --help)\n"
    )
