"""Pydantic plumbing shared by the vendor clients.

Two jobs: turn pydantic's validation errors into `InvalidParameterError`s that name the
field and the broken limit (without echoing a secret), and hold the schema-drift policy
every response model follows:
- an undocumented field loads, kept aside in `model_extra`, and is counted as drift;
- a value outside a documented enumeration (a field typed `Annotated[str, Documented(...)]`)
  loads as it came and is counted as drift;
- a required field missing, or a field of another JSON type (strict: `"200"` is no
  integer), fails the answer with a `ResponseFormatError` naming each field.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError

from waap_sessions.errors import ApiTransportError, InvalidParameterError, ResponseFormatError
from waap_sessions.redact import mask

ModelT = TypeVar("ModelT", bound=BaseModel)
ParsedT = TypeVar("ParsedT")


# How much of an unknown enumerated value its drift entry shows.
SHOWN_VALUE_CHARS = 40


@dataclass(frozen=True)
class Documented:
    """Marks a str field whose values the vendor enumerates: `Annotated[str, Documented(...)]`.

    Any string loads; one outside `values` is counted as drift, `Model.field='value'`, so
    a vendor's new value costs a warning instead of the load. (A `Literal` would fail it.)
    """

    values: tuple[str, ...]


class VendorModel(BaseModel):
    """A vendor's response object: documented fields typed, unknown ones kept in `model_extra`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


def validate_parameters(model: type[ModelT], values: Mapping[str, Any], what: str) -> ModelT:
    """Validate `values` as `model`, or raise InvalidParameterError naming each bad field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = [_describe(model, error) for error in exc.errors()]
        # `from None`: pydantic's own message echoes every input, secrets included.
        raise InvalidParameterError(what, problems) from None


def settings_from_env(model: type[ModelT], variables: Mapping[str, str], what: str) -> ModelT:
    """`model`'s defaults, overridden by each of its `variables` (field -> name) that is set.

    A bad value fails naming its variable, e.g. `WAAP_DAILY_CRON: ... (got 'daily')`.
    """
    values = {field: os.environ[name] for field, name in variables.items() if os.environ.get(name)}
    try:
        return validate_parameters(model, values, what)
    except InvalidParameterError as error:
        problems = [(variables.get(field, field), message) for field, message in error.problems]
        raise InvalidParameterError(error.what, problems) from None


def require_secret(value: str | SecretStr, what: str, field: str) -> SecretStr:
    """A credential as a SecretStr (so no repr shows it); empty ones fail at once."""
    secret = value if isinstance(value, SecretStr) else SecretStr(value)
    if not secret.get_secret_value().strip():
        raise InvalidParameterError(what, [(field, "must not be empty")])
    return secret


def parse_response(
    adapter: TypeAdapter[ParsedT],
    content: bytes,
    *,
    vendor: str,
    method: str,
    path: str,
    drift: Counter[str],
) -> ParsedT:
    """Parse an answer body strictly and count its drift.

    A body that is not JSON at all (cut short on the way, or empty) raises
    ApiTransportError: the answer did not arrive whole, and another try may bring it. A
    body that parses but breaks the schema raises ResponseFormatError.
    """
    try:
        parsed = adapter.validate_json(content, strict=True)
    except ValidationError as exc:
        unreadable = [error for error in exc.errors() if error["type"] == "json_invalid"]
        if unreadable and not unreadable[0]["loc"]:
            reason = f"the body is not whole JSON ({len(content)} bytes: {unreadable[0]['msg']})"
            raise ApiTransportError(
                vendor=vendor, method=method, path=path, reason=reason
            ) from None
        problems = schema_problems(exc)
        raise ResponseFormatError(vendor=vendor, path=path, problems=problems) from None
    count_unknown_fields(drift, parsed)
    return parsed


def schema_problems(error: ValidationError) -> list[str]:
    """Each broken field once, its records' indices folded, with the JSON type it came as:
    `results[].status_code: Input should be a valid integer (got str; 100 records)`.

    Never the value itself: an answer may carry a token.
    """
    found: Counter[tuple[str, str, str]] = Counter()
    for problem in error.errors():
        where = "".join(
            "[]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        ).lstrip(".")
        got = "" if problem["type"] == "missing" else f"got {type(problem['input']).__name__}"
        found[where or "(answer)", problem["msg"], got] += 1
    problems = []
    for (where, message, got), records in found.items():
        notes = [got] if got else []
        if records > 1:
            notes.append(f"{records} records")
        problems.append(f"{where}: {message}" + (f" ({'; '.join(notes)})" if notes else ""))
    return problems


def _describe(model: type[BaseModel], error: Mapping[str, Any]) -> tuple[str, str]:
    location = [str(part) for part in error["loc"]]
    field = location[0] if location else "(parameters)"
    name = field + "".join(f"[{part}]" for part in location[1:])
    message = str(error["msg"])
    if error["type"] != "missing" and "input" in error and not _is_secret(model, field):
        # A URL or a connection string may carry credentials: never echo them.
        message += f" (got {mask(repr(error['input']))})"
    return name, message


def _is_secret(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    return info is None or "SecretStr" in repr(info.annotation) or info.annotation is SecretStr


def unknown_fields(model: BaseModel) -> Counter[str]:
    """The drift in `model` and the models nested in it: undocumented fields as
    `Type.field`, values outside their enumeration as `Type.field='value'`."""
    found: Counter[str] = Counter()
    count_unknown_fields(found, model)
    return found


def count_unknown_fields(drift: Counter[str], parsed: object) -> None:
    """Add the drift of a parsed answer (a model or a list) to a drift counter: its
    undocumented fields, and its enumerated fields' undocumented values.

    It visits every row of every page, so it walks only what can hold drift: a model's
    extras, its enumerated fields, and its fields that can hold models and hold something.
    """
    if isinstance(parsed, BaseModel):
        documented, holding = _walk_plan(type(parsed))
        if parsed.__pydantic_extra__:
            kind = type(parsed).__name__
            drift.update(f"{kind}.{name}" for name in parsed.__pydantic_extra__)
        fields = parsed.__dict__
        for name, label, values in documented:
            value = fields[name]
            if value is not None and value not in values:
                shown = value[:SHOWN_VALUE_CHARS]
                drift[f"{type(parsed).__name__}.{label}={shown!r}"] += 1
        for name in holding:
            value = fields[name]
            if value is not None:
                count_unknown_fields(drift, value)
    elif isinstance(parsed, list | tuple):
        for item in parsed:
            count_unknown_fields(drift, item)
    elif isinstance(parsed, dict):
        for item in parsed.values():
            count_unknown_fields(drift, item)


@cache
def _walk_plan(
    model: type[BaseModel],
) -> tuple[tuple[tuple[str, str, frozenset[str]], ...], tuple[str, ...]]:
    """What of `model` can hold drift: its enumerated fields (name, name on the wire,
    documented values), and the fields that can hold models, the only ones worth walking."""
    fields = model.model_fields.items()
    documented = tuple(
        (name, info.alias or name, frozenset(marker.values))
        for name, info in fields
        for marker in info.metadata
        if isinstance(marker, Documented)
    )
    return documented, tuple(name for name, info in fields if _holds_models(info.annotation))


def _holds_models(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(argument) for argument in get_args(annotation))
