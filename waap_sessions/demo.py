"""The README's first command: the four APIs, read through the resources, on the simulator.

It starts the built-in simulator on loopback, points each Dagster resource at it exactly
as a deployment points them at the vendors, and prints a few rows from every API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd

from waap_sessions.resources import AccessWatchResource, AppgateSdpResource, GcoreWaapResource
from waap_sessions.simulator import Simulator, SimulatorConfig

Printer = Callable[[str], None]


def run_demo(config: SimulatorConfig | None = None, out: Printer = print) -> None:
    """Serve the simulator and print what each API answers through its client."""
    config = config or SimulatorConfig()
    with Simulator(config) as simulator:
        out(f"Simulator serving all four APIs at {simulator.base_url}\n")
        _show_gcore(
            GcoreWaapResource(api_key=config.gcore_api_key, base_url=simulator.base_url), out
        )
        _show_accesswatch(
            AccessWatchResource(
                api_key=config.accesswatch_api_key, base_url=simulator.accesswatch_base_url
            ),
            out,
        )
        _show_appgate(
            AppgateSdpResource(
                base_url=simulator.appgate_base_url,
                username=config.appgate_username,
                password=config.appgate_password,
                provider=config.appgate_provider,
            ),
            out,
        )


def _show_gcore(resource: GcoreWaapResource, out: Printer) -> None:
    with resource.get_client() as client:
        domains = list(client.iter_domains())
        out(
            _table(
                "Gcore WAAP domains",
                [d.model_dump(include={"id", "name", "status"}) for d in domains],
            )
        )
        domain = domains[0]
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        stream = client.iter_requests(today - timedelta(days=1), today, domains=[domain.id])
        rows = list(stream)
        shown = ["request_time", "client_ip", "country", "method", "path", "decision", "session_id"]
        out(
            _table(
                f"Gcore request analytics: {domain.name}, yesterday "
                f"({stream.rows} requests in {stream.pages} pages; first 5)",
                [row.model_dump(include=set(shown)) for row in rows[:5]],
            )
        )
        busiest_ip, _ = Counter(row.client_ip for row in rows).most_common(1)[0]
        sessions = client.get_top_sessions(busiest_ip, domain.id)
        out(
            _table(
                f"Gcore IP Spotlight: top sessions of {busiest_ip} on {domain.name}",
                [s.model_dump() for s in sessions[:5]],
            )
        )


def _show_accesswatch(resource: AccessWatchResource, out: Printer) -> None:
    with resource.get_client() as client:
        sessions = client.get_sessions(limit=5)
    out(
        _table(
            "Access Watch current sessions (first 5)",
            [
                {
                    "id": s.id,
                    "requests": s.count,
                    "ip": s.address.value,
                    "country": s.address.country_code,
                    "identity": s.identity.type,
                    "reputation": s.reputation.status,
                }
                for s in sessions
            ],
        )
    )


def _show_appgate(resource: AppgateSdpResource, out: Printer) -> None:
    with resource.get_client() as client:
        dashboard = client.get_active_sessions_dashboard()
    out(f"Appgate SDP active sessions: {dashboard.total_count}")
    out(
        _table(
            "  by country",
            [
                g.model_dump(include={"country_code", "continent_code", "session_count"})
                for g in dashboard.geo_ip_data
            ],
        )
    )
    out(
        _table(
            "  by client version",
            [{"version": v, **s.model_dump()} for v, s in dashboard.versions.items()],
        )
    )


def _table(title: str, rows: list[dict[str, object]]) -> str:
    body = pd.DataFrame(rows).to_string(index=False, na_rep="-") if rows else "(none)"
    return f"{title}\n{body}\n"
