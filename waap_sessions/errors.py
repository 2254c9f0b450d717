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
    """Base of every error this package raises on purpose.

    Its message holds plain strings only, so it may be logged as it is:

        try:
            rows = list(client.iter_requests("2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z"))
        except WaapSessionsError as error:
            log.error("Gcore load failed: %s", error)
    """


class InvalidParameterError(WaapSessionsError, ValueError):
    """A parameter broke a documented limit; raised before any request is sent.

    `fields` names the offending parameters:

        try:
            client.get_sessions(limit=0)
        except InvalidParameterError as error:
            print(error.fields)  # ('limit',)
    """

    def __init__(self, what: str, problems: Sequence[tuple[str, str]]) -> None:
        self.what = what
        self.problems = tuple(problems)
        listed = "; ".join(f"{field}: {message}" for field, message in self.problems)
        super().__init__(f"Invalid {what}: {listed}")

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the offending fields, in the order they were found."""
        return tuple(field for field, _ in self.problems)


class InvalidAttributesError(WaapSessionsError):
    """A component's defs.yaml broke a rule; `problems` names each attribute and the rule.

    Not a ValueError, unlike InvalidParameterError: it is raised while Dagster validates
    the attributes, where pydantic would fold a ValueError into its own multi-line error.

        except InvalidAttributesError as error:
            print(error.attributes)  # ('http.max_retries',)
    """

    def __init__(self, what: str, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(f"{name}: {message}" for name, message in self.problems)
        super().__init__(f"Invalid {what}: {listed}")

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.problems)


@dataclass(frozen=True)
class FieldError:
    """One field the server rejected, as Gcore's `errors[]` or Appgate's `errors[]` name it."""

    location: str
    message: str


class ApiError(WaapSessionsError):
    """The API answered with an error status; each status has its subclass below.

    Its fields say what failed, in the server's own words:

        try:
            client.get_top_sessions("203.0.113.7", domain_id=1)
        except ApiError as error:
            print(error.status, error.detail, [field.location for field in error.errors])
    """

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
    """400: the server could not read the request.

    `detail` holds the server's explanation:

        except BadRequestError as error:
            print(error.detail)  # the server's own explanation
    """


class AuthenticationError(ApiError):
    """401: the credentials are missing, wrong or expired.

    Retrying will not help; the credentials must change:

        except AuthenticationError as error:
            raise SystemExit(f"check the {error.vendor} credentials") from error
    """


class PermissionDeniedError(ApiError):
    """403: the credentials are valid but may not do this.

    `method` and `path` say what was refused:

        except PermissionDeniedError as error:
            print(f"this key may not call {error.method} {error.path}")
    """


class NotFoundError(ApiError):
    """404: no such resource (or domain) for this account.

    A domain removed from the account answers so:

        except NotFoundError:
            sessions = []  # e.g. a domain removed from the account
    """


class NotAcceptableError(ApiError):
    """406: Appgate does not speak the requested peer API version.

    An older controller wants an older peer API version:

        except NotAcceptableError:
            client = AppgateSdpClient(settings, token=token, api_version=20)
    """


class ConflictError(ApiError):
    """409: a lock or a concurrent change on the server side; retried.

    Raised once the retries are spent:

        except ConflictError as error:  # still conflicting after every retry
            print(error.title, error.detail)
    """


class UnprocessableEntityError(ApiError):
    """422: the server's own validation rejected the parameters.

    `errors` names each rejected field:

        except UnprocessableEntityError as error:
            print([(field.location, field.message) for field in error.errors])
    """


class RateLimitError(ApiError):
    """429: too many requests; retried after the server's `Retry-After`.

    Raised once the retries are spent; wait as the server asked:

        except RateLimitError as error:  # still limited after every retry
            time.sleep(error.retry_after_s or 60)
    """


class ServerError(ApiError):
    """5xx: the server failed; retried.

    Raised once the retries are spent:

        except ServerError as error:  # still failing after every retry
            print(error.status, error.vendor)
    """


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
    """The request never got an answer: connection refused or cut, or a timeout.

    Raised once the retries are spent; `reason` says what happened:

        try:
            sessions = client.get_sessions()
        except ApiTransportError as error:
            print(error.vendor, error.reason)  # e.g. a read timeout, after every retry
    """

    def __init__(self, *, vendor: str, method: str, path: str, reason: str) -> None:
        self.vendor = vendor
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{vendor} {method} {path} got no complete answer: {reason}")


class ResponseFormatError(WaapSessionsError):
    """The answer does not match the documented schema (drift in a required field).

    `problems` lists each field that drifted, and how:

        try:
            dashboard = client.get_active_sessions_dashboard()
        except ResponseFormatError as error:
            print(error.path, error.problems)  # which fields drifted, and how
    """

    def __init__(self, *, vendor: str, path: str, problems: Sequence[str]) -> None:
        self.vendor = vendor
        self.path = path
        self.problems = tuple(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{vendor} {path} answered outside its documented schema: {shown}{more}")


class WarehouseError(WaapSessionsError):
    """The lake could not be opened or written: what was asked, where, and why.

    For example, a catalog server out of reach:

        try:
            lake = connect(settings=LakeSettings(catalog="postgres:dbname=waap host=db"))
        except WarehouseError as error:
            print(error)  # e.g. the catalog server could not be reached
    """


class WarehouseConflictError(WarehouseError):
    """A write lost its commit to other writers of the same table on every try.

    Nothing of that write is in the lake; run it again:

        except WarehouseConflictError as error:  # nothing of it was written
            print(error.what, error.attempts)  # run it again, or fewer writers at once
    """

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


class LoadRefusedError(WaapSessionsError):
    """A load that cannot be the partition it would replace, refused before writing.

    Every row outside the window asked for (a `request_time` in another unit), or far
    fewer rows than the API reported, would replace the stored partition with nothing or
    with a fragment; the partition is kept as it was and the reason is the message:

        except LoadRefusedError as error:  # the partition is as it was
            print(error)  # e.g. 2026-11-19|1001: every one of the 8,000 rows ...
    """
