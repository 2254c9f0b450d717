"""Typed errors of the API layer.

Every error carries plain strings only (vendor, method, path, status, the server's own
explanation), never the request or response objects: those hold headers, and headers
hold credentials. So an error can be logged, shown in the Dagster UI or attached to run
metadata without leaking a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class WaapSessionsError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidParameterError(WaapSessionsError, ValueError):
    """A parameter broke a documented limit; raised before any request is sent."""

    def __init__(self, what: str, problems: Sequence[tuple[str, str]]) -> None:
        self.what = what
        self.problems = tuple(problems)
        listed = "; ".join(f"{field}: {message}" for field, message in self.problems)
        super().__init__(f"Invalid {what}: {listed}")

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the offending fields, in the order they were found."""
        return tuple(field for field, _ in self.problems)


@dataclass(frozen=True)
class FieldError:
    """One field the server rejected, as Gcore's `errors[]` or Appgate's `errors[]` name it."""

    location: str
    message: str


class ApiError(WaapSessionsError):
    """The API answered with an error status."""

    def __init__(
        self,
        *,
        vendor: str,
        method: str,
        path: str,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        errors: Sequence[FieldError] = (),
        retry_after_s: float | None = None,
    ) -> None:
        self.vendor = vendor
        self.method = method
        self.path = path
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.retry_after_s = retry_after_s
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.vendor} {self.method} {self.path} failed with HTTP {self.status}"
        explanation = ": ".join(part for part in (self.title, self.detail) if part)
        if explanation:
            text += f": {explanation}"
        if self.errors:
            text += " (" + "; ".join(f"{e.location}: {e.message}" for e in self.errors) + ")"
        return text


class BadRequestError(ApiError):
    """400: the server could not read the request."""


class AuthenticationError(ApiError):
    """401: the credentials are missing, wrong or expired."""


class PermissionDeniedError(ApiError):
    """403: the credentials are valid but may not do this."""


class NotFoundError(ApiError):
    """404: no such resource (or domain) for this account."""


class NotAcceptableError(ApiError):
    """406: Appgate does not speak the requested peer API version."""


class ConflictError(ApiError):
    """409: a lock or a concurrent change on the server side; retried."""


class UnprocessableEntityError(ApiError):
    """422: the server's own validation rejected the parameters."""


class RateLimitError(ApiError):
    """429: too many requests; retried after the server's `Retry-After`."""


class ServerError(ApiError):
    """5xx: the server failed; retried."""


_ERROR_BY_STATUS: Mapping[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    406: NotAcceptableError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def api_error_class(status: int) -> type[ApiError]:
    """The most specific error class for an HTTP status."""
    if status >= 500:
        return ServerError
    return _ERROR_BY_STATUS.get(status, ApiError)


class ApiTransportError(WaapSessionsError):
    """The request never got an answer: connection refused or cut, or a timeout."""

    def __init__(self, *, vendor: str, method: str, path: str, reason: str) -> None:
        self.vendor = vendor
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{vendor} {method} {path} got no complete answer: {reason}")


class ResponseFormatError(WaapSessionsError):
    """The answer does not match the documented schema (drift in a required field)."""

    def __init__(self, *, vendor: str, path: str, problems: Sequence[str]) -> None:
        self.vendor = vendor
        self.path = path
        self.problems = tuple(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{vendor} {path} answered outside its documented schema: {shown}{more}")


class WarehouseError(WaapSessionsError):
    """The lake could not be opened or written: what was asked, where, and why."""


class WarehouseConflictError(WarehouseError):
    """A write lost its commit to other writers of the same table on every try."""

    def __init__(self, what: str, attempts: int) -> None:
        self.what = what
        self.attempts = attempts
        super().__init__(
            f"{what} lost a commit conflict to other writers of the same table {attempts} "
            "times in a row; nothing of it was written. Run it again, or let fewer runs "
            "write that table at once"
        )


def field_errors(raw: Any) -> list[FieldError]:
    """Read Gcore's `[{loc, detail}]` or Appgate's `[{field, message}]` into FieldErrors."""
    if not isinstance(raw, list):
        return []
    found = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        location = item.get("loc", item.get("field", ""))
        if isinstance(location, list):
            location = ".".join(str(part) for part in location)
        message = item.get("detail", item.get("message", ""))
        found.append(FieldError(location=str(location), message=str(message)))
    return found
