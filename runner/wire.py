"""The wire form of the runner's attrs records: camelCase keys, made in one place.

Stages return attrs records with snake_case fields. Where a record leaves the process (an
HTTP response, a stored step, a run's stage record) :func:`to_wire` turns it into JSON-ready
data: an attrs record becomes an object whose keys are its field names in camelCase; the
keys of a plain mapping are data (criterion names, file paths) and are kept as they are.
A field's ``metadata`` says how it travels:

* ``PRIVATE``: never on the wire (internal bookkeeping);
* ``OMIT_NONE``: left out when ``None``;
* ``OMIT_EMPTY``: left out when ``None`` or empty;
* ``KEY``: the record is a mapping's value and this field is its key (not repeated inside).

:func:`from_wire` reads a record back from its wire form (a stored step replayed).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

__all__ = ["KEY", "OMIT_EMPTY", "OMIT_NONE", "PRIVATE", "from_wire", "to_wire"]

T = TypeVar("T")

PRIVATE: Mapping[str, str] = {"wire": "private"}
OMIT_NONE: Mapping[str, str] = {"wire": "omit-none"}
OMIT_EMPTY: Mapping[str, str] = {"wire": "omit-empty"}
KEY: Mapping[str, str] = {"wire": "key"}


@attrs.frozen
class _Field:
    name: str
    key: str
    mode: str | None


_FIELDS: dict[type, tuple[_Field, ...]] = {}


def to_camel(name: str) -> str:
    """``files_modified`` -> ``filesModified`` (the API's models use the same rule)."""
    first, *rest = name.split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def _fields(cls: type) -> tuple[_Field, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = tuple(
            _Field(f.name, to_camel(f.name), f.metadata.get("wire")) for f in attrs.fields(cls)
        )
        _FIELDS[cls] = fields
    return fields


def to_wire(value: Any) -> Any:
    """Return ``value`` as JSON-ready data (records camelCased, mappings and lists walked)."""
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for field in _fields(type(value)):
            if field.mode in ("private", "key"):
                continue
            item = getattr(value, field.name)
            if item is None and field.mode in ("omit-none", "omit-empty"):
                continue
            if field.mode == "omit-empty" and not item:
                continue
            out[field.key] = to_wire(item)
        return out
    if isinstance(value, Mapping):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    return value


def from_wire(cls: type[T], data: Mapping[str, Any], *, key: str | None = None) -> T:
    """Return the ``cls`` record that :func:`to_wire` turned into ``data``.

    Fields missing from ``data`` take their defaults; ``key`` fills the ``KEY`` field.

    Raises:
        TypeError: ``data`` lacks a field without default (e.g. a body of an older shape).
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in _fields(cls):
        if field.mode == "key":
            values[field.name] = key
        elif field.key in data:
            values[field.name] = _read(hints[field.name], data[field.key])
    return cls(**values)


def _read(hint: Any, value: Any) -> Any:
    """``value`` as the field typed ``hint`` holds it (records, tuples of and maps to them)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: read as X
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else hint
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and attrs.has(hint) and isinstance(value, Mapping):
        return from_wire(hint, value)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin is Mapping and isinstance(value, Mapping):
        item = typing.get_args(hint)[1]
        if isinstance(item, type) and attrs.has(item):
            return {k: from_wire(item, v, key=k) for k, v in value.items()}
    return value
