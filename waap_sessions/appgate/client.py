"""Appgate SDP Controller client: the active-sessions dashboard of the Admin API.

Every call sends `Accept: application/vnd.appgate.peer-v<N>+json`. Authentication is a
login (provider, username, password, a stable device id) that returns a bearer token;
the token is reused until shortly before it expires, and a 401 triggers one more login.
A ready-made token can be given instead of, or besides, the login.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Generator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, model_validator

from waap_sessions.appgate import DEFAULT_API_VERSION
from waap_sessions.appgate.models import ActiveSessionsDashboard, LoginAnswer
from waap_sessions.http_core import HttpClient, HttpSettings, VendorClient
from waap_sessions.models import parse_response, validate_parameters

DASHBOARD_PATH = "/stats/active-sessions/dashboard"
LOGIN_PATH = "/login"
FIRST_DASHBOARD_VERSION = 20

_DASHBOARD = TypeAdapter(ActiveSessionsDashboard)
_LOGIN_ANSWER = TypeAdapter(LoginAnswer)


class AppgateCredentials(BaseModel):
    """How to authenticate: a login, a ready-made token, or both (the token is tried first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = None
    provider: str = Field(default="local", min_length=1)
    device_id: uuid.UUID | None = Field(
        default=None, description="Defaults to a UUID derived from the username and URL."
    )
    token: SecretStr | None = None
    api_version: int = Field(default=DEFAULT_API_VERSION, ge=FIRST_DASHBOARD_VERSION)

    @model_validator(mode="after")
    def _some_way_in(self) -> AppgateCredentials:
        has_login = bool(self.username and self.password and self.password.get_secret_value())
        has_token = bool(self.token and self.token.get_secret_value())
        if not has_login and not has_token:
            raise ValueError("give a username and password, or a token")
        return self

    @property
    def can_login(self) -> bool:
        return bool(self.username and self.password)


class AppgateAuth(httpx.Auth):
    """Bearer auth that logs in when it holds no valid token, and once more on a 401."""

    requires_response_body = True

    def __init__(self, credentials: AppgateCredentials, login_url: str, drift: Counter[str]):
        self._credentials = credentials
        self._login_url = login_url
        self._drift = drift
        self._lock = threading.Lock()
        self._token = credentials.token
        self._renew_at: float | None = None  # monotonic time; None: valid until a 401
        self.logins = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._valid_token()
        if token is None:
            token = yield from self._login(request)
            if token is None:
                return  # the failed login's answer becomes the error
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self._credentials.can_login:
            token = yield from self._login(request)
            if token is None:
                return
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _valid_token(self) -> str | None:
        with self._lock:
            if self._token is None:
                return None
            if self._renew_at is not None and time.monotonic() >= self._renew_at:
                return None
            return self._token.get_secret_value()

    def _login(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, str | None]:
        credentials = self._credentials
        assert credentials.username
        assert credentials.password
        device_id = credentials.device_id or uuid.uuid5(
            uuid.NAMESPACE_URL, f"waap-sessions:{credentials.username}@{self._login_url}"
        )
        response = yield httpx.Request(
            "POST",
            self._login_url,
            headers={key: request.headers[key] for key in ("Accept", "User-Agent")},
            json={
                "providerName": credentials.provider,
                "username": credentials.username,
                "password": credentials.password.get_secret_value(),
                "deviceId": str(device_id),
            },
        )
        if not response.is_success:
            return None
        answer = parse_response(
            _LOGIN_ANSWER,
            response.content,
            vendor="Appgate",
            method="POST",
            path=LOGIN_PATH,
            drift=self._drift,
        )
        lifetime = _lifetime_s(answer.expires, response.headers.get("date"))
        with self._lock:
            self.logins += 1
            self._token = answer.token
            # Renew a little early; a lifetime we cannot trust means: until a 401.
            self._renew_at = (
                time.monotonic() + lifetime - min(60.0, lifetime / 10) if lifetime else None
            )
        return answer.token.get_secret_value()


def _lifetime_s(expires: datetime | None, server_date: str | None) -> float | None:
    """Seconds the token lives, measured on the server's clock so clock skew cannot matter."""
    if expires is None:
        return None
    try:
        now = parsedate_to_datetime(server_date) if server_date else datetime.now(UTC)
    except (TypeError, ValueError):
        now = datetime.now(UTC)
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    lifetime = (expires - now).total_seconds()
    return lifetime if lifetime > 0 else None


class AppgateSdpClient(VendorClient):
    """A plain Appgate SDP Admin API client (no Dagster inside); close it, or use `with`.

    `settings.base_url` is the controller's Admin API, e.g. `https://controller:8443/admin`.

        settings = HttpSettings(base_url="https://controller.example.com:8443/admin")
        password = os.environ["APPGATE_PASSWORD"]
        with AppgateSdpClient(settings, username="admin", password=password) as client:
            print(client.get_active_sessions_dashboard().total_count)
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        username: str | None = None,
        password: str | SecretStr | None = None,
        provider: str = "local",
        device_id: str | uuid.UUID | None = None,
        token: str | SecretStr | None = None,
        api_version: int = DEFAULT_API_VERSION,
    ) -> None:
        self.credentials = validate_parameters(
            AppgateCredentials,
            {
                "username": username,
                "password": password,
                "provider": provider,
                "device_id": device_id,
                "token": token or None,
                "api_version": api_version,
            },
            "Appgate SDP settings",
        )
        drift: Counter[str] = Counter()
        self.auth = AppgateAuth(self.credentials, settings.base_url + LOGIN_PATH, drift)
        accept = f"application/vnd.appgate.peer-v{self.credentials.api_version}+json"
        super().__init__(
            HttpClient(settings, vendor="Appgate", auth=self.auth, headers={"Accept": accept})
        )
        self.schema_drift = drift  # shared with the login, whose answers may drift too

    def get_active_sessions_dashboard(self) -> ActiveSessionsDashboard:
        """Active-session totals by location and client version, as the controller sees now."""
        return self.get(DASHBOARD_PATH, _DASHBOARD)
