"""Access Watch: `GET /1.1/sessions`, a snapshot of the sessions active at the simulated now.

A session is active if its last request is at most `active_window_s` old; its fields are
derived from the same sessions and requests the Gcore analytics serve (`id` is the
Gcore `session_id`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from waap_sessions.simulator.catalog import ACCESSWATCH_THREATS
from waap_sessions.simulator.clock import SimulatedClock
from waap_sessions.simulator.config import SimulatorConfig
from waap_sessions.simulator.dataset import ActiveSession, Dataset, iso_utc
from waap_sessions.simulator.vendors import accesswatch_error, json_response, same_secret

SESSIONS_PATH = "/1.1/sessions"
DEFAULT_LIMIT = 50
_ROBOT_URLS = {
    "Googlebot": "http://www.google.com/bot.html",
    "bingbot": "http://www.bing.com/bingbot.htm",
    "OpenAI GPTBot": "https://openai.com/gptbot",
    "Uptimerobot": "http://www.uptimerobot.com/",
}
_THREAT_OF_TAG = {
    "injectionattack": "suspicious_scan",
    "xssattack": "suspicious_scan",
    "pathtraversal": "suspicious_scan",
    "rceattack": "suspicious_scan",
    "scanner": "suspicious_scan",
    "badreputation": "referer_spam",
    "automatedclient": "comment_spam",
    "evasiveclient": "comment_spam",
    "bruteforce": "brute_force_login",
}


_DESCRIPTIONS = {
    "browser": "a browser",
    "crawler": "a verified crawler",
    "tool": "a script",
    "spoofer": "a bot posing as {client}",
    "attacker": "an attack tool",
}


def _hex_id(*parts: str) -> str:
    """A stable 32-hex id, as Access Watch gives every object."""
    return hashlib.md5("|".join(parts).encode(), usedforsecurity=False).hexdigest()


def _slug(text: str) -> str:
    return text.lower().replace(" ", "")


def reputation_status(detected_share: float) -> str:
    """nice / ok / suspicious / bad from the share of the session's requests a refusing rule
    fired on: what the client did, not whether the domain blocked it or only monitored."""
    if detected_share == 0:
        return "nice"
    if detected_share < 0.2:
        return "ok"
    return "suspicious" if detected_share < 0.6 else "bad"


def session_object(active: ActiveSession) -> dict[str, Any]:
    """One Access Watch Session object; optional objects are left out where the data lacks them."""
    session = active.session
    client, address = session.client, session.address
    identity_type = {"browser": "browser", "crawler": "robot"}.get(session.kind)
    seen = session.records[: active.count]
    tags = {tag for record in seen if record.detected for tag in record.tags}
    threats = sorted({_THREAT_OF_TAG[tag] for tag in tags if tag in _THREAT_OF_TAG})
    item: dict[str, Any] = {
        "id": session.id,
        "count": active.count,
        "updated": iso_utc(active.last_ms),
        "identity": {
            "id": _hex_id("identity", address.ip, session.user_agent),
            "type": identity_type,
            "name": client.name if identity_type == "robot" else None,
            "label": f"{client.name} on {client.system}",
            "description": f"{_DESCRIPTIONS[session.kind].format(client=client.name)} "
            f"from {address.organization}",
        },
        "address": {
            "id": _hex_id("address", address.ip),
            "value": address.ip,
            "hostname": address.hostname,
            "label": address.hostname,
            "as_number": str(address.asn),
            "network_name": address.organization.upper().replace(" ", "-"),
            "country_code": address.country.code,
            "flags": list(address.flags),
        },
        "reputation": {
            "status": reputation_status(active.detected / active.count),
            "threats": [threat for threat in ACCESSWATCH_THREATS if threat in threats],
        },
    }
    if session.kind in ("browser", "crawler"):  # tools and attack kits send no Accept-Language
        item["signature"] = {
            "id": _hex_id("signature", client.name, address.country.language),
            "language_code": address.country.language,
            "country_code": address.country.code,
        }
    if int(session.id[:2], 16) >= 13:  # about one session in twenty hides its user agent
        item["user_agent"] = {
            "id": _hex_id("user_agent", session.user_agent),
            "value": session.user_agent,
            "type": identity_type or "bot",
            "agent": {
                "name": _slug(client.name),
                "version": session.client_version,
                "icon": _slug(client.name),
                "label": f"{client.name} {session.client_version}",
            },
            "system": {
                "name": _slug(client.system),
                "icon": _slug(client.system),
                "label": client.system,
            },
        }
    if active.count > 1:
        interval = (active.last_ms - active.first_ms) / 1000
        # A rate over at least a minute: two requests a millisecond apart are not 2,000/s.
        per_second = active.count / max(interval, 60.0)
        item["speed"] = {
            "interval": interval,
            "per_second": round(per_second, 4),
            "per_minute": round(per_second * 60, 2),
        }
    if identity_type == "robot":
        item["robot"] = {
            "id": _hex_id("robot", client.name),
            "name": client.name,
            "status": "nice",
            "description": f"{client.name}, a well-known crawler",
            "url": _ROBOT_URLS.get(client.name, ""),
            "icon": _slug(client.name),
        }
    return item


class AccessWatchApi:
    """The Access Watch routes over one data set."""

    def __init__(self, dataset: Dataset, config: SimulatorConfig, clock: SimulatedClock) -> None:
        self._dataset = dataset
        self._config = config
        self._clock = clock

    def routes(self) -> list[BaseRoute]:
        return [
            Route(SESSIONS_PATH, self.sessions, methods=["GET"]),
        ]

    async def sessions(self, request: Request) -> Response:
        """`{"sessions": [...]}`: active sessions, most recently updated first, at most `limit`."""
        key = request.headers.get("api-key") or request.query_params.get("api_key") or ""
        if not same_secret(key, self._config.accesswatch_api_key):
            return accesswatch_error(401, "Unauthorized: missing or invalid API key")
        raw_limit = request.query_params.get("limit")
        limit = DEFAULT_LIMIT
        if raw_limit is not None:
            if not raw_limit.isdigit() or int(raw_limit) <= 0:
                return accesswatch_error(400, "Bad Request: limit must be a positive integer")
            limit = int(raw_limit)
        active = self._dataset.active_sessions(self._clock.now())[:limit]
        return json_response({"sessions": [session_object(item) for item in active]})
