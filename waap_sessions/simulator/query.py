"""Gcore query validation generated from Gcore's published OpenAPI document.

The FastAPI backend behind the real API validates query strings against the parameter
schemas in that document; here each operation's parameters become a pydantic model
(`create_model`), so the simulator's limits cannot drift from the published ones.
Supported schema keywords: type (integer, number, string, boolean, array, null), enum,
anyOf, $ref, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength,
pattern, maxItems, minItems, default, and the formats ipv4, ipv6 and ipvanyaddress.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

OPENAPI_PATH = Path(__file__).with_name("gcore-waap-analytics-openapi.json")

_FORMATS: dict[str, type] = {
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
    "ipvanyaddress": Union[ipaddress.IPv4Address, ipaddress.IPv6Address],  # type: ignore[dict-item]  # noqa: UP007
}
_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minItems": "min_length",
    "maxItems": "max_length",
}


class QueryValidationError(Exception):
    """The query broke the published schema; `errors` are Gcore's `[{loc, detail}]` items."""

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e['loc']}: {e['detail']}" for e in self.errors))


def field_error(name: str, detail: str) -> dict[str, Any]:
    """One Gcore `APIFieldError` for a query parameter."""
    return {"loc": ["query", name], "detail": detail}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """Gcore's OpenAPI document, as shipped in this package."""
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return document


def component_schema(name: str) -> dict[str, Any]:
    """A schema of the document's `components.schemas`."""
    schema: dict[str, Any] = openapi_document()["components"]["schemas"][name]
    return schema


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.removeprefix("#/components/schemas/")
    merged = {key: value for key, value in schema.items() if key != "$ref"}
    return {**component_schema(name), **merged}


def _annotation(schema: dict[str, Any]) -> Any:
    """The Python type (with pydantic constraints) a JSON schema describes."""
    schema = _resolve(schema)
    if "anyOf" in schema:
        return Union[tuple(_annotation(option) for option in schema["anyOf"])]  # noqa: UP007
    if "enum" in schema:
        return Literal[tuple(schema["enum"])]
    kind = schema.get("type")
    if kind == "array":
        base: Any = list[_annotation(schema["items"])]  # type: ignore[misc]
    elif kind == "string" and "format" in schema:
        base = _FORMATS[schema["format"]]
    else:
        simple = {"integer": int, "number": float, "string": str, "boolean": bool, "null": None}
        if kind not in simple:
            raise ValueError(f"unsupported parameter schema: {schema}")
        base = simple[kind]
    constraints = {keyword: schema[key] for key, keyword in _CONSTRAINTS.items() if key in schema}
    return Annotated[base, Field(**constraints)] if constraints else base


@dataclass(frozen=True)
class QueryModel:
    """The validated query parameters of one GET operation."""

    model: type[BaseModel]
    array_names: frozenset[str]

    def parse(self, items: Sequence[tuple[str, str]]) -> BaseModel:
        """Validate raw query items: arrays by repeated names, scalars by their last value.

        Unknown names are ignored, as FastAPI does. Raises QueryValidationError.
        """
        raw: dict[str, Any] = {}
        for name, value in items:
            if name in self.array_names:
                raw.setdefault(name, []).append(value)
            else:
                raw[name] = value
        try:
            return self.model.model_validate(raw)
        except ValidationError as error:
            raise QueryValidationError([_field_error(item) for item in error.errors()]) from None


def _field_error(item: Any) -> dict[str, Any]:
    """A pydantic error as Gcore's `{loc, detail}`: the field name, then any list index."""
    name, *rest = item["loc"]
    indexes = [part for part in rest if isinstance(part, int)]
    return {"loc": ["query", name, *indexes], "detail": item["msg"]}


@functools.cache
def query_model(path: str) -> QueryModel:
    """The query model of `GET path`, built from the document's parameter schemas."""
    operation = openapi_document()["paths"][path]["get"]
    fields: dict[str, Any] = {}
    arrays = set()
    for parameter in operation["parameters"]:
        if parameter["in"] != "query":
            continue
        name, schema = parameter["name"], _resolve(parameter["schema"])
        annotation = _annotation(schema)
        if parameter.get("required", False):
            fields[name] = (annotation, ...)
        else:
            fields[name] = (annotation | None, schema.get("default"))
        if schema.get("type") == "array":
            arrays.add(name)
    title = operation["operationId"].title().replace("_", "")
    model = create_model(title, __config__=ConfigDict(extra="ignore"), **fields)
    return QueryModel(model, frozenset(arrays))
