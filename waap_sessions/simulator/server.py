"""Running the simulator: one Starlette app for all four APIs, served by uvicorn in a thread."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from datetime import datetime
from email.utils import format_datetime
from types import TracebackType
from typing import NamedTuple
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waap_sessions.simulator.accesswatch import AccessWatchApi
from waap_sessions.simulator.appgate import AppgateApi
from waap_sessions.simulator.clock import SimulatedClock
from waap_sessions.simulator.config import SimulatorConfig
from waap_sessions.simulator.dataset import Dataset
from waap_sessions.simulator.faults import FaultInjector, Faults, TruncatedResponse
from waap_sessions.simulator.gcore import GcoreApi
from waap_sessions.simulator.vendors import (
    ACCESSWATCH_PREFIX,
    APPGATE_PREFIX,
    error_response,
    vendor_of,
)
from waap_sessions.simulator.workforce import workforce

_START_TIMEOUT_S = 10.0


class LoggedRequest(NamedTuple):
    """An API call as the simulator answered it (after faults)."""

    method: str
    path: str
    query: str
    status: int
    user_agent: str
    accept: str

    @property
    def query_params(self) -> dict[str, str]:
        """The query as a dict; for a repeated name, the last value."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (`localhost` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _RequestLog:
    """ASGI middleware that records every API call with the status finally sent.

    It also stamps each answer's `Date` header from the simulated clock, as a real server
    dates answers by its own clock, and counts the most requests it held at once.
    """

    def __init__(self, app: ASGIApp, log: list[LoggedRequest], clock: SimulatedClock) -> None:
        self._app = app
        self._log = log
        self._clock = clock
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or vendor_of(scope["path"]) is None:
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        logged = False

        def log_call(status: int) -> None:
            nonlocal logged
            logged = True
            self._log.append(
                LoggedRequest(
                    scope["method"],
                    scope["path"],
                    scope["query_string"].decode("latin-1"),
                    status,
                    headers.get("user-agent", ""),
                    headers.get("accept", ""),
                )
            )

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Logged before the client can read a byte of the answer, so a test that
                # has its answer always finds its call in the log.
                log_call(message["status"])
                date = format_datetime(self._clock.now(), usegmt=True).encode()
                message["headers"] = [*message.get("headers", []), (b"date", date)]
            await send(message)

        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._app(scope, receive, watch)
        finally:
            self.in_flight -= 1
            if not logged:  # the app failed before answering: the server sends a 500
                log_call(500)


class _HideTruncations(logging.Filter):
    """Keep uvicorn from printing a traceback for every deliberately cut answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is TruncatedResponse)


async def _routing_error(request: Request, error: Exception) -> Response:
    """404 and 405 from routing itself, in the dialect of the API addressed."""
    assert isinstance(error, HTTPException)
    return error_response(request.url.path, error.status_code, error.detail, headers=error.headers)


class Simulator:
    """All four APIs on a loopback port, with faults: the web APIs over one deterministic
    data set (`dataset`), Appgate over the company's workforce (`workforce`).

    Use as a context manager (`with Simulator(config) as sim:`) or call `start` and `stop`.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.dataset = Dataset(self.config)
        self.faults = Faults()
        self.request_log: list[LoggedRequest] = []
        self._clock = SimulatedClock(self.config.now)
        self.workforce = workforce(self.config.seed)
        self._appgate = AppgateApi(self.workforce, self.config, self._clock)
        vendors = (
            GcoreApi(self.dataset, self.config, self._clock),
            AccessWatchApi(self.dataset, self.config, self._clock),
            self._appgate,
        )
        routes = [route for vendor in vendors for route in vendor.routes()]
        app = Starlette(routes=routes, exception_handlers={HTTPException: _routing_error})
        injector = FaultInjector(
            app, lambda: self.faults, self.dataset, self._clock, self.config.seed
        )
        self._log = _RequestLog(injector, self.request_log, self._clock)
        self.app: ASGIApp = self._log
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def base_url(self) -> str:
        """Gcore's base URL (paths `/waap/v1/...`), e.g. `http://127.0.0.1:PORT`."""
        if self._url is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return self._url

    @property
    def accesswatch_base_url(self) -> str:
        return self.base_url + ACCESSWATCH_PREFIX

    @property
    def appgate_base_url(self) -> str:
        return self.base_url + APPGATE_PREFIX

    def now(self) -> datetime:
        """The simulated clock: `config.now` plus the real time elapsed since start."""
        return self._clock.now()

    def advance_clock(self, seconds: float) -> None:
        """Jump the simulated clock forward (token expiry, sessions going idle) without sleeping."""
        self._clock.advance(seconds)

    def clear_log(self) -> None:
        """Forget the calls so far, the most seen at once, and the Appgate logins."""
        self.request_log.clear()
        self._appgate.device_ids.clear()
        self._log.max_in_flight = self._log.in_flight

    @property
    def max_concurrent_requests(self) -> int:
        """The most API calls the simulator held at once since the log was last cleared."""
        return self._log.max_in_flight

    @property
    def appgate_device_ids(self) -> list[str]:
        """The `deviceId` of every successful Appgate login, in order."""
        return self._appgate.device_ids

    def revoke_appgate_tokens(self) -> None:
        """Every Appgate token issued so far answers 401 from now on."""
        self._appgate.revoke_tokens()

    def start(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_non_loopback: bool = False
    ) -> Simulator:
        """Serve in a background thread; port 0 picks a free one. Loopback only unless allowed."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        if not (allow_non_loopback or is_loopback(host)):
            raise ValueError(
                f"refusing to listen on non-loopback host {host!r}: the simulator serves fake "
                "credentials to anyone; pass allow_non_loopback=True to do it anyway"
            )
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        bound_host, bound_port = sock.getsockname()[:2]
        logging.getLogger("uvicorn.error").addFilter(_HideTruncations())
        server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", access_log=False, lifespan="off", date_header=False
            )
        )
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="waap-simulator", daemon=True
        )
        self._clock.start()
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("the simulator's server did not start")
            time.sleep(0.01)
        self._server = server
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._url = f"http://{shown}:{bound_port}"
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT_S)
        self._server = self._thread = self._url = None

    def __enter__(self) -> Simulator:
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
