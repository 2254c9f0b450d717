"""Appgate SDP Controller: login and the active-sessions dashboard (`/admin/...`).

Every call must ask for a supported peer API version in `Accept`. The dashboard counts
the company's own VPN sessions connected now (`workforce.py`), not the web traffic's
visitors: `totalCount` is their number, and the location and version breakdowns each sum
to it.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from waap_sessions.simulator.clock import SimulatedClock
from waap_sessions.simulator.config import SimulatorConfig
from waap_sessions.simulator.dataset import iso_utc, to_ms
from waap_sessions.simulator.vendors import appgate_error, json_response, same_secret
from waap_sessions.simulator.workforce import Connection, Site, Workforce

LOGIN_PATH = "/admin/login"
DASHBOARD_PATH = "/admin/stats/active-sessions/dashboard"
_ACCEPT = re.compile(r"application/vnd\.appgate\.peer-v(\d+)\+json")
_TOKEN_ERROR = "Token error. Login again."  # noqa: S105 - a message, not a secret

Endpoint = Callable[[Request], Awaitable[Response]]


class LoginRequest(BaseModel):
    """The body of `POST /admin/login`."""

    model_config = ConfigDict(extra="ignore")

    providerName: str
    username: str
    password: str
    deviceId: uuid.UUID


def dashboard(connections: list[Connection]) -> dict[str, Any]:
    """`{totalCount, geoIpData, versions}` from the connected sessions, grouped by city."""
    by_site: defaultdict[Site, list[Connection]] = defaultdict(list)
    for connection in connections:
        by_site[connection.site].append(connection)
    geo = [
        {
            "sessionCount": len(sessions),
            "latitude": site.latitude,
            "longitude": site.longitude,
            "countryCode": site.country,
            "continentCode": site.continent,
            "ips": sorted({session.address.ip for session in sessions}),
        }
        for site, sessions in sorted(
            by_site.items(), key=lambda item: (-len(item[1]), item[0].city)
        )
    ]
    versions = Counter(connection.person.release for connection in connections)
    return {
        "totalCount": len(connections),
        "geoIpData": geo,
        "versions": {
            release.version: {"supportStatus": release.support, "sessionCount": count}
            for release, count in sorted(versions.items(), key=lambda item: item[0].version)
        },
    }


class AppgateApi:
    """The Appgate routes, with the bearer tokens they issued."""

    def __init__(
        self, workforce: Workforce, config: SimulatorConfig, clock: SimulatedClock
    ) -> None:
        self._workforce = workforce
        self._config = config
        self._clock = clock
        self._token_expiry: dict[str, datetime] = {}
        self.device_ids: list[str] = []  # of every successful login, for the tests

    def routes(self) -> list[BaseRoute]:
        return [
            Route(LOGIN_PATH, self._versioned(self.login), methods=["POST"]),
            Route(DASHBOARD_PATH, self._versioned(self.dashboard), methods=["GET"]),
        ]

    def revoke_tokens(self) -> None:
        """Every token issued so far answers 401 from now on."""
        self._token_expiry.clear()

    def _versioned(self, handler: Endpoint) -> Endpoint:
        """Answer 406 unless `Accept` asks for a peer API version the controller speaks."""

        async def endpoint(request: Request) -> Response:
            asked = _ACCEPT.search(request.headers.get("accept", ""))
            if asked is None or int(asked.group(1)) not in self._config.appgate_api_versions:
                supported = ", ".join(f"v{v}" for v in self._config.appgate_api_versions)
                return appgate_error(
                    406,
                    "Invalid 'Accept' header. Send "
                    f"application/vnd.appgate.peer-v<N>+json with N one of {supported}.",
                )
            return await handler(request)

        return endpoint

    async def login(self, request: Request) -> Response:
        try:
            body = LoginRequest.model_validate_json(await request.body())
        except ValidationError as error:
            problems = [
                {
                    "field": ".".join(str(part) for part in item["loc"]) or "body",
                    "message": item["msg"],
                }
                for item in error.errors()
            ]
            return appgate_error(422, "Request body is invalid.", errors=problems)
        config = self._config
        if not (
            body.providerName == config.appgate_provider
            and same_secret(body.username, config.appgate_username)
            and same_secret(body.password, config.appgate_password)
        ):
            return appgate_error(401, "Invalid username or password.")
        token = secrets.token_urlsafe(32)
        expires = self._clock.now() + timedelta(seconds=config.appgate_token_ttl_s)
        self._token_expiry[token] = expires
        self.device_ids.append(str(body.deviceId))
        return json_response(
            {
                "token": token,
                "expires": iso_utc(to_ms(expires)),
                "user": {
                    "name": body.username,
                    "providerName": body.providerName,
                    "needTwoFactorAuth": False,
                    "canAccessAuditLogs": True,
                    "privileges": [{"type": "View", "target": "All"}],
                },
            }
        )

    async def dashboard(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expires = self._token_expiry.get(token.strip()) if scheme.lower() == "bearer" else None
        now = self._clock.now()
        if expires is None or expires <= now:
            return appgate_error(401, _TOKEN_ERROR)
        return json_response(dashboard(self._workforce.active(now)))
