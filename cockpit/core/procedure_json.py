"""A validated procedure as JSON, and back without validating it again (the procedure cache's
format: `cockpit.core.procedure_cache`).

Every model is written with its class name and the fields set, every enum with its class, and
read back with `model_construct`: no validator runs and nothing but the procedure's own classes
can be named, so reading a file runs no code of its own (pickle would run whatever the file
names). A list is written as ["l", items] so that a bare JSON array is always a tag; a dict is
a JSON object. A value of any other type (a tuple, a set, a key that is not text, NaN) is
refused when written, so a model that grows one is not cached rather than read back wrong.
"""

from __future__ import annotations

import json
from enum import Enum
from functools import cache
from typing import Any

from pydantic import BaseModel

from cockpit.core import procedure, rules
from cockpit.core.procedure import Procedure

_MODEL, _ENUM, _LIST = "m", "e", "l"


class NotEncodable(ValueError):
    """A value the format does not know (the caller does not cache it)."""


@cache
def _models() -> dict[str, type[BaseModel]]:
    return {
        name: value
        for name, value in vars(procedure).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    }


@cache
def _enums() -> dict[str, type[Enum]]:
    return {
        name: value
        for name, value in vars(rules).items()
        if isinstance(value, type)
        and issubclass(value, Enum)
        and value.__module__ == rules.__name__
    }


def _encode(value: Any) -> Any:
    # Checked by exact type: a bool is an int, and an enum a str, to isinstance.
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value
    if isinstance(value, BaseModel):
        name = kind.__name__
        if _models().get(name) is not kind:
            raise NotEncodable(f"model {name} is not one of the procedure's")
        fields = {field: _encode(item) for field, item in value.__dict__.items()}
        return [_MODEL, name, fields, sorted(value.model_fields_set)]
    if isinstance(value, Enum):
        name = kind.__name__
        if _enums().get(name) is not kind:
            raise NotEncodable(f"enum {name} is not one of the procedure's")
        return [_ENUM, name, value.value]
    if kind is list:
        return [_LIST, [_encode(item) for item in value]]
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise NotEncodable("a dict key that is not text")
        return {key: _encode(item) for key, item in value.items()}
    raise NotEncodable(f"a value of type {kind.__name__}")


def dumps(validated: Procedure) -> str:
    """The JSON of a validated procedure; NotEncodable if it holds a type the format lacks."""
    try:
        return json.dumps(_encode(validated), allow_nan=False, separators=(",", ":"))
    except ValueError as error:  # NaN or infinity, which validation refuses anyway
        raise NotEncodable(str(error)) from None


def _decode(value: Any) -> Any:
    if type(value) is dict:
        return {key: _decode(item) for key, item in value.items()}
    if type(value) is not list:
        return value
    tag = value[0]
    if tag == _LIST and len(value) == 2 and type(value[1]) is list:
        return [_decode(item) for item in value[1]]
    if tag == _MODEL and len(value) == 4 and type(value[2]) is dict:
        model = _models()[value[1]]
        fields = {key: _decode(item) for key, item in value[2].items()}
        if set(fields) != set(model.model_fields):
            raise ValueError(f"{value[1]}: not its fields")
        return model.model_construct(set(value[3]), **fields)
    if tag == _ENUM and len(value) == 3:
        return _enums()[value[1]](value[2])
    raise ValueError(f"unknown tag {tag!r}")


def loads(text: str) -> Procedure:
    """The procedure `dumps` wrote, not validated again; ValueError (or KeyError, TypeError,
    RecursionError) for text it did not write."""
    found = _decode(json.loads(text))
    if type(found) is not Procedure:
        raise ValueError("not a procedure")
    return found
