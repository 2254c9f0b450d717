"""The `waap-sessions` console script: a thin dispatcher over subcommands."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from waap_sessions.errors import WaapSessionsError
from waap_sessions.migration import migrate
from waap_sessions.warehouse import connect, table_reference


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


def _add_simulate(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "simulate", help="serve the four simulated APIs on a local port until Ctrl-C"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback unless allowed otherwise")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--domains", type=int, default=3)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--requests-per-day", type=int, default=5000)
    parser.add_argument("--now", type=datetime.fromisoformat, help="ISO time; default: now")
    parser.add_argument("--count-mode", choices=("total", "page"), default="total")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--truncate-rate", type=float, default=0.0)
    parser.add_argument("--arrivals-per-request", type=int, default=0)
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="listen on a non-loopback host (it serves fake credentials to anyone who asks)",
    )
    parser.set_defaults(run=simulate)


def simulate(args: argparse.Namespace) -> int:
    """Start the simulator, print where it listens and how to log in, serve until Ctrl-C."""
    with _simulator_extra("simulate"):
        from waap_sessions.simulator import Faults, Simulator, SimulatorConfig
        from waap_sessions.simulator.server import is_loopback
    if not (args.allow_non_loopback or is_loopback(args.host)):
        print(
            f"error: refusing to listen on non-loopback host {args.host!r}; "
            "pass --allow-non-loopback to do it anyway",
            file=sys.stderr,
        )
        return 2
    try:
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
        faults = Faults(
            latency_s=args.latency_ms / 1000,
            error_rate=args.error_rate,
            rate_limit_per_s=args.rate_limit,
            truncate_rate=args.truncate_rate,
            arrivals_per_request=args.arrivals_per_request,
        )
    except ValidationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    simulator = Simulator(config)
    simulator.faults = faults
    simulator.start(args.host, args.port, allow_non_loopback=args.allow_non_loopback)
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


def _add_demo(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "demo", help="read every API through its resource, on a simulator started for it"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(run=demo)


def demo(args: argparse.Namespace) -> int:
    """Run the README's first command: the whole pipeline on the built-in simulator."""
    with _simulator_extra("demo"):
        from waap_sessions.demo import run_demo
        from waap_sessions.simulator import SimulatorConfig
    run_demo(SimulatorConfig(seed=args.seed))
    return 0


def _add_dev(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "dev", help="serve the simulator and the Dagster UI on it, until Ctrl-C"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=3000, help="the Dagster UI's port")
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


def _add_migrate(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        type=Path,
        required=True,
        help="the old DuckDB file, e.g. data/waap_sessions.duckdb",
    )
    parser.set_defaults(run=migrate_file)


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


def _add_tables(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "tables", help="print the table reference (the contract with BI) as Markdown"
    )
    parser.set_defaults(run=tables)


def tables(args: argparse.Namespace) -> int:
    """Print every table's declaration, as the README's table reference shows it."""
    print(table_reference())
    return 0


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_demo,
    _add_dev,
    _add_migrate,
    _add_simulate,
    _add_tables,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand."""
    parser = argparse.ArgumentParser(prog="waap-sessions", description=__doc__)
    subcommands = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(subcommands)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
