"""fal's published input schemas of the video endpoints, as data, and a check against them.

Both the catalog (``generation``) and the local sandbox (``falsandbox``) read this package,
so that what we build, what the sandbox accepts and what fal accepts are one set of facts.
It is plain Python with no Django and no third-party imports, because the sandbox must run
without the apps.

``validate`` answers the way fal's queue does when a model refuses its input: a list of
``detail`` entries ``{"loc": ["body", field], "msg", "type", ...}`` as in fal's 422 body
(fal's apps validate with pydantic, so the types and messages follow pydantic's). An
unknown argument is not an error: fal ignores extra fields.

We keep our own small checker instead of a JSON-Schema library because fal publishes no
JSON Schema for these endpoints (the facts are TypeScript types and their doc comments),
and the answer we need is fal's error shape, not a validator's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Constraint", "Endpoint", "Field", "all_endpoints", "known", "schema", "source", "validate"]

_DATA = Path(__file__).with_name("endpoints.json")

FIELD_TYPES = frozenset({"string", "number", "integer", "boolean", "file", "array"})


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # one of FIELD_TYPES
    required: bool
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    default: Any = None
    items_type: str | None = None  # element type of an array


@dataclass(frozen=True)
class Constraint:
    """A rule between fields that fal states in words ("over 10 s only at 1080p and 25
    fps") but its types cannot express: when `field`'s value is above `gt`, each field
    in `only` must take one of its listed values. A field not sent counts as its default."""

    field: str
    gt: float
    only: dict[str, tuple[Any, ...]]
    source: str = ""


@dataclass(frozen=True)
class Endpoint:
    id: str
    family: str
    fields: dict[str, Field]
    price_text: str | None
    source: str  # where the schema was read: repo@commit:path
    price_source: str | None = None
    notes: tuple[str, ...] = ()
    constraints: tuple[Constraint, ...] = ()

    def field(self, name: str) -> Field | None:
        return self.fields.get(name)

    def value_of(self, arguments: dict[str, Any], name: str) -> Any:
        """What the endpoint uses for `name`: the value sent, else its default."""
        value = arguments.get(name)
        if value is None and name in self.fields:
            return self.fields[name].default
        return value


def _default(spec: dict[str, Any]) -> Any:
    # fal writes some integer-enum defaults as strings ("5" for 5); read them as the number
    # so that a default is always one of the allowed values.
    default, enum = spec.get("default"), spec.get("enum")
    if spec["type"] == "integer" and isinstance(default, str) and default.lstrip("-").isdigit():
        number = int(default)
        if enum is None or number in enum:
            return number
    return default


@cache
def _load() -> tuple[dict[str, Any], dict[str, Endpoint]]:
    raw = json.loads(_DATA.read_text(encoding="utf-8"))
    top = raw["source"]
    endpoints: dict[str, Endpoint] = {}
    for endpoint_id, data in raw["endpoints"].items():
        fields = {}
        for name, spec in data["input"].items():
            if spec["type"] not in FIELD_TYPES:
                raise ValueError(f"{endpoint_id}.{name}: unknown type {spec['type']!r}")
            enum = spec.get("enum")
            fields[name] = Field(
                name=name,
                type=spec["type"],
                required=bool(spec["required"]),
                enum=tuple(enum) if enum is not None else None,
                min=spec.get("min"),
                max=spec.get("max"),
                default=_default(spec),
                items_type=(spec.get("items") or {}).get("type"),
            )
        price = data.get("price") or {}
        endpoints[endpoint_id] = Endpoint(
            id=endpoint_id,
            family=data["family"],
            fields=fields,
            price_text=price.get("text"),
            price_source=price.get("source"),
            source=f"{top['repo']}@{data['schema_commit'][:7]}:{top['path']}",
            notes=tuple(data.get("notes") or ()),
            constraints=tuple(
                Constraint(
                    field=rule["when"]["field"],
                    gt=rule["when"]["gt"],
                    only={name: tuple(values) for name, values in rule["only"].items()},
                    source=rule.get("source", ""),
                )
                for rule in data.get("constraints") or ()
            ),
        )
    return top, endpoints


def source() -> dict[str, Any]:
    """Where and when the data was read (repo, path, commit, date)."""
    return dict(_load()[0])


def all_endpoints() -> dict[str, Endpoint]:
    return dict(_load()[1])


def known(endpoint_id: str) -> bool:
    return endpoint_id in _load()[1]


def schema(endpoint_id: str) -> Endpoint:
    """The endpoint's published input schema; KeyError when fal has no such endpoint."""
    try:
        return _load()[1][endpoint_id]
    except KeyError:
        raise KeyError(f"fal has no endpoint {endpoint_id!r}") from None


def validate(endpoint_id: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """[] when fal would accept ``arguments`` for this endpoint, else fal's 422 ``detail`` list.

    Raises KeyError for an endpoint fal does not have (fal refuses those at submit, before
    any validation).
    """
    endpoint = schema(endpoint_id)
    if not isinstance(arguments, dict):
        return [_error(["body"], "Input should be a valid dictionary", "dict_type", arguments)]
    errors: list[dict[str, Any]] = []
    for name, field in endpoint.fields.items():
        if name not in arguments:
            if field.required:
                errors.append(_error(["body", name], "Field required", "missing", arguments))
            continue
        errors.extend(_check(field, arguments[name], ["body", name]))
    if not errors:
        errors.extend(constraint_errors(endpoint, arguments))
    return errors


def constraint_errors(endpoint: Endpoint, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """The endpoint's rules between fields that these (otherwise valid) arguments break,
    as 422 ``detail`` entries on the field that must change."""
    errors = []
    for rule in endpoint.constraints:
        value = endpoint.value_of(arguments, rule.field)
        if not _is_number(value) and not (isinstance(value, str) and value.rstrip("s").isdigit()):
            continue
        if float(str(value).rstrip("s")) <= rule.gt:
            continue
        for name, allowed in rule.only.items():
            actual = endpoint.value_of(arguments, name)
            if not any(_same(actual, option) for option in allowed):
                choices = " or ".join(_literal(option) for option in allowed)
                errors.append(_error(
                    ["body", name], f"Input should be {choices} when {rule.field} is greater than {rule.gt:g}",
                    "value_error", actual, expected=choices,
                ))
    return errors


def _error(loc: list[Any], msg: str, type_: str, value: Any, **ctx: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"loc": loc, "msg": msg, "type": type_, "input": value}
    if ctx:
        entry["ctx"] = ctx
    return entry


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


_TYPE_CHECKS = {
    "string": (lambda v: isinstance(v, str), "string_type", "Input should be a valid string"),
    "file": (lambda v: isinstance(v, str), "string_type", "Input should be a valid string"),
    "boolean": (lambda v: isinstance(v, bool), "bool_type", "Input should be a valid boolean"),
    "integer": (_is_int, "int_type", "Input should be a valid integer"),
    "number": (_is_number, "float_type", "Input should be a valid number"),
    "array": (lambda v: isinstance(v, list), "list_type", "Input should be a valid list"),
}


def _literal(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _same(a: Any, b: Any) -> bool:
    # Literal values match by value and type: "5" is not 5, True is not 1.
    return type(a) is type(b) and a == b


def _check(field: Field, value: Any, loc: list[Any]) -> list[dict[str, Any]]:
    if value is None:
        # Optional fields are Optional[...] in fal's apps: null means "use the default".
        if field.required:
            check = _TYPE_CHECKS[field.type]
            return [_error(loc, check[2], check[1], value)]
        return []
    if field.enum is not None:
        if any(_same(value, allowed) for allowed in field.enum):
            return []
        choices = [_literal(v) for v in field.enum]
        expected = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
        return [_error(loc, f"Input should be {expected}", "literal_error", value, expected=expected)]
    is_type, type_, msg = _TYPE_CHECKS[field.type]
    if not is_type(value):
        return [_error(loc, msg, type_, value)]
    if field.type == "array" and field.items_type in _TYPE_CHECKS:
        item_check, item_type, item_msg = _TYPE_CHECKS[field.items_type]
        return [
            _error([*loc, index], item_msg, item_type, item)
            for index, item in enumerate(value)
            if not item_check(item)
        ]
    if field.type in ("number", "integer"):
        if field.min is not None and value < field.min:
            return [_error(loc, f"Input should be greater than or equal to {field.min}",
                           "greater_than_equal", value, ge=field.min)]
        if field.max is not None and value > field.max:
            return [_error(loc, f"Input should be less than or equal to {field.max}",
                           "less_than_equal", value, le=field.max)]
    return []
