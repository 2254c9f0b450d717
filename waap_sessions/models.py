"""Pydantic plumbing shared by the vendor clients.

Two jobs: turn pydantic's validation errors into `InvalidParameterError`s that name the
field and the broken limit (without echoing a secret), and give response models a base
that keeps undocumented fields aside, so schema drift is counted instead of lost.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError

from waap_sessions.errors import ApiTransportError, InvalidParameterError, ResponseFormatError

ModelT = TypeVar("ModelT", bound=BaseModel)
_URL_CREDENTIALS = re.compile(r"//[^/@\s'\"]*@")
# A libpq-style `password=...` (a catalog connection string) is a credential too.
_PASSWORD_PARAMETER = re.compile(r"(password\s*=\s*)[^\s'\"]+", re.IGNORECASE)
ParsedT = TypeVar("ParsedT")


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
    """Parse an answer body and count its undocumented fields.

    A body that is not JSON at all (cut short on the way, or empty) raises
    ApiTransportError: the answer did not arrive whole, and another try may bring it. A
    body that parses but breaks the schema raises ResponseFormatError.
    """
    try:
        parsed = adapter.validate_json(content)
    except ValidationError as exc:
        unreadable = [error for error in exc.errors() if error["type"] == "json_invalid"]
        if unreadable and not unreadable[0]["loc"]:
            reason = f"the body is not whole JSON ({len(content)} bytes: {unreadable[0]['msg']})"
            raise ApiTransportError(
                vendor=vendor, method=method, path=path, reason=reason
            ) from None
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ResponseFormatError(vendor=vendor, path=path, problems=problems) from None
    count_unknown_fields(drift, parsed)
    return parsed


def _describe(model: type[BaseModel], error: Mapping[str, Any]) -> tuple[str, str]:
    location = [str(part) for part in error["loc"]]
    field = location[0] if location else "(parameters)"
    name = field + "".join(f"[{part}]" for part in location[1:])
    message = str(error["msg"])
    if error["type"] != "missing" and "input" in error and not _is_secret(model, field):
        # A URL may carry credentials (`https://user:password@host`), and a connection
        # string a `password=`: never echo them.
        shown = _URL_CREDENTIALS.sub("//***@", repr(error["input"]))
        message += " (got " + _PASSWORD_PARAMETER.sub(r"\1***", shown) + ")"
    return name, message


def _is_secret(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    return info is None or "SecretStr" in repr(info.annotation) or info.annotation is SecretStr


def unknown_fields(model: BaseModel) -> Counter[str]:
    """Name every undocumented field in `model` and the models nested in it, as `Type.field`."""
    found: Counter[str] = Counter()
    count_unknown_fields(found, model)
    return found


def count_unknown_fields(drift: Counter[str], parsed: object) -> None:
    """Add the undocumented fields of a parsed answer (a model or a list) to a drift counter.

    It visits every row of every page, so it walks only what can hold an unknown field: a
    model's extras, and its fields that can hold models and hold something.
    """
    if isinstance(parsed, BaseModel):
        if parsed.__pydantic_extra__:
            kind = type(parsed).__name__
            drift.update(f"{kind}.{name}" for name in parsed.__pydantic_extra__)
        for name in _fields_holding_models(type(parsed)):
            value = getattr(parsed, name)
            if value is not None:
                count_unknown_fields(drift, value)
    elif isinstance(parsed, list | tuple):
        for item in parsed:
            count_unknown_fields(drift, item)
    elif isinstance(parsed, dict):
        for item in parsed.values():
            count_unknown_fields(drift, item)


@cache
def _fields_holding_models(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` that can hold models: the only ones worth walking into."""
    return tuple(
        name for name, info in model.model_fields.items() if _holds_models(info.annotation)
    )


def _holds_models(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(argument) for argument in get_args(annotation))
