"""The `waap-sessions` console script: a thin dispatcher over subcommands."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

from pydantic import ValidationError

from waap_sessions.errors import WaapSessionsError
from waap_sessions.migration import migrate
from waap_sessions.warehouse import connect, table_reference


class _Parser(argparse.ArgumentParser):
    """Reports a user's mistake in one line (flag, value, rule), not with a usage dump."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help; one without a default says in words what happens."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required:
            return f"{action.help} (required)"
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


# The subcommands of `waap-sessions`, each parsed by a `_Parser`.
Subcommands: TypeAlias = "argparse._SubParsersAction[_Parser]"


@contextmanager
def _simulator_extra(command: str) -> Iterator[None]:
    """Wraps a subcommand's imports of the simulator or the demo (the `simulator` extra).

    They are imported there, not with this module, so a deployment's commands (migrate,
    tables) run without the extra; when it is missing, one line says how to install it.
    """
    try:
        yield
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("waap_sessions"):
            raise
        raise SystemExit(
            f"error: waap-sessions {command} needs the simulator extra: "
            "pip install 'waap-sessions[simulator]'"
        ) from error


_SEED_HELP = "the simulated data set's random seed"
# simulate's options that are one field of the simulator's settings or faults, checked by
# that model when parsed: (flag, model, field, default, help).
_SIMULATOR_OPTIONS: tuple[tuple[str, str, str, Any, str], ...] = (
    ("--seed", "SimulatorConfig", "seed", 7, _SEED_HELP),
    ("--domains", "SimulatorConfig", "domains", 3, "Gcore domains (1-50)"),
    ("--days", "SimulatorConfig", "days", 3, "full UTC days of data before today's (0-366)"),
    (
        "--requests-per-day",
        "SimulatorConfig",
        "requests_per_day",
        5000,
        "requests per domain and day (1-2,000,000)",
    ),
    (
        "--now",
        "SimulatorConfig",
        "now",
        None,
        "the simulated clock at start, an ISO time with its zone; default: the current time",
    ),
    (
        "--error-rate",
        "Faults",
        "error_rate",
        0.0,
        "the share of answers (0-1) that fail with --error-status",
    ),
    (
        "--error-status",
        "Faults",
        "error_status",
        503,
        "the status (400-599) of the failed answers of --error-rate",
    ),
    (
        "--rate-limit",
        "Faults",
        "rate_limit_per_s",
        None,
        "requests per second, beyond which the APIs answer 429; default: no limit",
    ),
    (
        "--truncate-rate",
        "Faults",
        "truncate_rate",
        0.0,
        "the share of answers (0-1) whose body is cut halfway",
    ),
    (
        "--arrivals-per-request",
        "Faults",
        "arrivals_per_request",
        0,
        "new requests per domain, stamped now, before each analytics call",
    ),
)


def _add_simulate(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "simulate",
        help="serve the four simulated APIs on a local port until Ctrl-C",
        description="Serve Gcore WAAP, Access Watch and Appgate SDP, simulated on one data "
        "set, on one local port until Ctrl-C; the fault options make it misbehave on demand.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; loopback only, unless --allow-non-loopback",
    )
    parser.add_argument("--port", type=_port(free=True), default=8765, help="0 picks a free port")
    for flag, model, field, default, text in _SIMULATOR_OPTIONS:
        parser.add_argument(flag, type=_setting(model, field), default=default, help=text)
    parser.add_argument(
        "--count-mode",
        choices=("total", "page"),
        default="total",
        help="Gcore's `count`: every matching row (as Gcore's client reads it) or the page's",
    )
    parser.add_argument(
        "--latency-ms",
        type=_setting("Faults", "latency_s", scale=1000),
        default=0.0,
        help="added to every answer, in milliseconds",
    )
    parser.add_argument(
        "--script",
        type=_statuses,
        help="scripted answers: the statuses (400-599) of the next API calls, in order, "
        "comma-separated (e.g. 503,429); default: none",
    )
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="listen on a non-loopback host (it serves fake credentials to anyone who asks)",
    )
    parser.set_defaults(run=simulate)


def _port(*, free: bool) -> Callable[[str], int]:
    """A TCP port; with `free`, 0 too, which picks a free one."""
    low = 0 if free else 1

    def port(text: str) -> int:
        value = int(text) if text.isascii() and text.strip().isdigit() else -1
        if not low <= value <= 65535:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to 65535 (got {text!r})"
            )
        return value

    return port


def _setting(
    model: str, field: str, *, scale: float = 1, command: str = "simulate"
) -> Callable[[str], Any]:
    """A flag checked by the simulator's own settings model, so its limits live there only.

    `scale` converts the flag's unit to the field's (milliseconds to seconds: 1000).
    """

    def setting(text: str) -> Any:
        with _simulator_extra(command):
            from waap_sessions import simulator
        value: Any = text
        if scale != 1:
            try:
                value = float(text) / scale
            except ValueError:
                raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
        try:
            checked = getattr(simulator, model).model_validate({field: value})
        except ValidationError as error:
            rule = error.errors()[0]["msg"]
            raise argparse.ArgumentTypeError(f"{rule} (got {text!r})") from None
        return float(text) if scale != 1 else getattr(checked, field)

    return setting


def _statuses(text: str) -> tuple[int, ...]:
    """Comma-separated error statuses, each checked as the simulator checks `error_status`."""
    check = _setting("Faults", "error_status")
    return tuple(check(part.strip()) for part in text.split(","))


def simulate(args: argparse.Namespace) -> int:
    """Start the simulator, print where it listens and how to log in, serve until Ctrl-C."""
    with _simulator_extra("simulate"):
        from waap_sessions.simulator import Faults, ScriptedFault, Simulator, SimulatorConfig
        from waap_sessions.simulator.server import is_loopback
    if not (args.allow_non_loopback or is_loopback(args.host)):
        print(
            f"error: refusing to listen on non-loopback host {args.host!r}; "
            "pass --allow-non-loopback to do it anyway",
            file=sys.stderr,
        )
        return 2
    # Every value was checked when parsed (`_setting`), against these very models.
    settings = {
        "seed": args.seed,
        "domains": args.domains,
        "days": args.days,
        "requests_per_day": args.requests_per_day,
        "count_mode": args.count_mode,
    }
    if args.now is not None:
        settings["now"] = args.now
    config = SimulatorConfig.model_validate(settings)
    simulator = Simulator(config)
    simulator.faults = Faults(
        latency_s=args.latency_ms / 1000,
        error_rate=args.error_rate,
        error_status=args.error_status,
        rate_limit_per_s=args.rate_limit,
        truncate_rate=args.truncate_rate,
        arrivals_per_request=args.arrivals_per_request,
        script=deque(ScriptedFault(status) for status in args.script or ()),
    )
    try:
        simulator.start(args.host, args.port, allow_non_loopback=args.allow_non_loopback)
    except OSError as error:
        print(f"error: cannot listen on {args.host} port {args.port}: {error}", file=sys.stderr)
        return 1
    print(
        f"Gcore WAAP    {simulator.base_url}  (Authorization: APIKey {config.gcore_api_key})\n"
        f"Access Watch  {simulator.accesswatch_base_url}  (Api-Key: {config.accesswatch_api_key})\n"
        f"Appgate SDP   {simulator.appgate_base_url}  (provider {config.appgate_provider}, "
        f"user {config.appgate_username}, password {config.appgate_password})\n"
        f"Simulated now {simulator.now().isoformat()}; these credentials are fake. Ctrl-C stops.",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0


def _add_demo(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "demo", help="read every API through its resource, on a simulator started for it"
    )
    parser.add_argument(
        "--seed",
        type=_setting("SimulatorConfig", "seed", command="demo"),
        default=7,
        help=_SEED_HELP,
    )
    parser.set_defaults(run=demo)


def demo(args: argparse.Namespace) -> int:
    """Run the README's first command: the whole pipeline on the built-in simulator."""
    with _simulator_extra("demo"):
        from waap_sessions.demo import run_demo
        from waap_sessions.simulator import SimulatorConfig
    run_demo(SimulatorConfig(seed=args.seed))
    return 0


def _add_dev(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "dev", help="serve the simulator and the Dagster UI on it, until Ctrl-C"
    )
    parser.add_argument(
        "--seed",
        type=_setting("SimulatorConfig", "seed", command="dev"),
        default=7,
        help=_SEED_HELP,
    )
    parser.add_argument(
        "--port", type=_port(free=False), default=3000, help="the Dagster UI's port"
    )
    parser.set_defaults(run=dev)


def dev(args: argparse.Namespace) -> int:
    """`dagster dev` with every resource pointed at a simulator started for it."""
    with _simulator_extra("dev"):
        from waap_sessions.demo import dagster_home, simulator_environment
        from waap_sessions.simulator import Simulator, SimulatorConfig
    dagster = Path(sys.executable).with_name("dagster")
    with Simulator(SimulatorConfig(seed=args.seed)) as simulator:
        print(f"Simulator serving at {simulator.base_url}", flush=True)
        environment = {
            **os.environ,
            **simulator_environment(simulator),
            "DAGSTER_HOME": str(dagster_home()),
        }
        command = [str(dagster), "dev", "-w", "workspace.yaml", "-p", str(args.port)]
        try:
            return subprocess.call(command, env=environment)  # noqa: S603 (our own dagster)
        except KeyboardInterrupt:
            return 0


def _add_migrate(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "migrate",
        help="move the tables of an earlier version's DuckDB file into the lake",
        description=(
            "Copy every table from the single DuckDB file of earlier versions into the lake "
            "the WAAP_DUCKLAKE_* variables name (default: sqlite:data/waap_catalog.sqlite, "
            "data/waap_lake/). Rows whose key the lake holds already are kept as they are, "
            "so it may run twice; the file is only read."
        ),
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        type=_existing_file,
        required=True,
        help="the old DuckDB file, e.g. data/waap_sessions.duckdb",
    )
    parser.set_defaults(run=migrate_file)


def _existing_file(text: str) -> Path:
    """A file that exists: checked before the lake is opened (and perhaps created)."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"must name an existing DuckDB file (got {text!r})")
    return path


def migrate_file(args: argparse.Namespace) -> int:
    """Move an old DuckDB file's tables into the lake and print what moved."""
    try:
        with connect(read_only=False) as lake:
            moves = migrate(lake, args.source)
    except WaapSessionsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{'table':<24} {'rows in file':>12} {'copied':>10} {'already in lake':>16}")
    for move in moves:
        print(
            f"{move.table:<24} {move.rows_in_file:>12,} {move.copied:>10,} "
            f"{move.already_in_lake:>16,}"
        )
    copied = sum(move.copied for move in moves)
    print(
        f"Moved {copied:,} rows; every row of {args.source} is in the lake. The file is unchanged."
    )
    return 0


def _add_tables(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "tables", help="print the table reference (the contract with BI) as Markdown"
    )
    parser.set_defaults(run=tables)


def _add_doctor(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "doctor",
        help="check each configured API's credentials and reachability, and the warehouse",
        description="One line per API (Gcore WAAP, Access Watch, Appgate SDP) and one for "
        "the warehouse, configured by the same environment variables as the code location: "
        "ok, skipped (not configured) or FAILED with what to do. Exits 1 when one failed.",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=10.0,
        help="seconds to wait for each API's connection and answer (0-300)",
    )
    parser.set_defaults(run=doctor)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0, at most 300 (got {text!r})"
        )
    return value


def doctor(args: argparse.Namespace) -> int:
    """Print one line per check; fail when one failed."""
    from waap_sessions.doctor import run_checks

    failed = False
    for check in run_checks(timeout_s=args.timeout):
        print(check.line(), flush=True)
        failed |= check.status == "FAILED"
    return 1 if failed else 0


def tables(args: argparse.Namespace) -> int:
    """Print every table's declaration, as the README's table reference shows it."""
    print(table_reference())
    return 0


_SUBCOMMANDS: tuple[Callable[[Subcommands], None], ...] = (
    _add_demo,
    _add_dev,
    _add_doctor,
    _add_migrate,
    _add_simulate,
    _add_tables,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (its subparsers are `_Parser`s too)."""
    parser = _Parser(prog="waap-sessions", description=__doc__)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
