"""Which vendor a path belongs to, and each vendor's error format.

Every error the simulator sends (from a route, from routing itself or from an injected
fault) goes through `error_response`, so each API always answers in its own dialect:
Gcore `application/problem+json`, Appgate `{id, message}`, Access Watch short text.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal

from starlette.responses import PlainTextResponse, Response

Vendor = Literal["gcore", "accesswatch", "appgate"]

GCORE_PREFIX = "/waap/"
ACCESSWATCH_PREFIX = "/1.1"
APPGATE_PREFIX = "/admin"

_GCORE_TYPES = {
    400: "http-bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "http-not-found",
    405: "method-not-allowed",
    422: "request-validation-failed",
    429: "too-many-requests",
    500: "internal-server-error",
}
_APPGATE_IDS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    422: "unprocessable-entity",
    429: "too-many-requests",
}


def vendor_of(path: str) -> Vendor | None:
    """The API a path belongs to; None for anything that is not an API call."""
    if path.startswith(GCORE_PREFIX):
        return "gcore"
    if path == ACCESSWATCH_PREFIX or path.startswith(ACCESSWATCH_PREFIX + "/"):
        return "accesswatch"
    if path == APPGATE_PREFIX or path.startswith(APPGATE_PREFIX + "/"):
        return "appgate"
    return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_response(
    content: Any, status: int = 200, media_type: str = "application/json"
) -> Response:
    """Compact JSON, as the real APIs send it."""
    body = json.dumps(content, separators=(",", ":"))
    return Response(body, status_code=status, media_type=media_type)


def gcore_problem(
    status: int,
    detail: str,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A Gcore `APIError` (or `APICompositeError` with `errors`) as problem+json."""
    title = "Request validation error." if status == 422 else _reason(status)
    problem: dict[str, Any] = {
        "type": _GCORE_TYPES.get(status, "service-unavailable" if status >= 500 else "http-error"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        problem["errors"] = list(errors)
    response = json_response(problem, status, "application/problem+json")
    response.headers.update(headers or {})
    return response


def appgate_error(
    status: int,
    message: str,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An Appgate `{id, message}` error (422 adds `errors`)."""
    content: dict[str, Any] = {"id": _APPGATE_IDS.get(status, "error"), "message": message}
    if errors is not None:
        content["errors"] = list(errors)
    response = json_response(content, status)
    response.headers.update(headers or {})
    return response


def accesswatch_error(
    status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    """Access Watch documents no error body: a short text line."""
    return PlainTextResponse(message, status_code=status, headers=headers)


def error_response(
    path: str, status: int, message: str = "", *, headers: Mapping[str, str] | None = None
) -> Response:
    """An error in the dialect of the API that `path` belongs to."""
    message = message or _reason(status)
    vendor = vendor_of(path)
    if vendor == "gcore":
        return gcore_problem(status, message, headers=headers)
    if vendor == "appgate":
        return appgate_error(status, message, headers=headers)
    return accesswatch_error(status, message, headers=headers)


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a presented credential with the configured one."""
    return secrets.compare_digest(given.encode(), expected.encode())
