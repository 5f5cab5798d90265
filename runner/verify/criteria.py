"""The criterion grammar, the registry of supported criteria and their results.

A task's ``criteria`` map names to requirement strings::

    test.coverage   "≥80%" | ">=80%" | "80%"        line coverage of the touched scope
    type.strict     "0 errors" | "≤N errors"        mypy / pyright / tsc errors
    lint.clean      "0 errors" | "≤N errors"        linter findings
    doc.updated     "task_outcomes.md[, other.md]"  the branch changed these files
    tests.pass      "true" (any value but false)     every test passes

:func:`parse_criteria` turns the map into :class:`Criterion` values, or raises
:class:`~runner.errors.InvalidInputError` naming ``criteria.<name>``.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from runner.errors import InvalidInputError
from runner.wire import KEY, OMIT_EMPTY, OMIT_NONE

__all__ = [
    "COVERAGE",
    "DOC_UPDATED",
    "LINT_CLEAN",
    "SUPPORTED_CRITERIA",
    "TESTS_PASS",
    "TYPE_STRICT",
    "Criterion",
    "CriterionResult",
    "format_percent",
    "parse_criteria",
]

COVERAGE = "test.coverage"
TYPE_STRICT = "type.strict"
LINT_CLEAN = "lint.clean"
DOC_UPDATED = "doc.updated"
TESTS_PASS = "tests.pass"

_PERCENT = re.compile(r"^(?:≥|>=|=>)?\s*(?P<n>\d+(?:\.\d+)?)\s*%$")
_ERRORS = re.compile(r"^(?:(?:≤|<=|=<)\s*)?(?P<n>\d+)\s*errors?$", re.IGNORECASE)
_FALSY = {"false", "no", "off", "0", "none", "skip"}
_TRUTHY = {"true", "yes", "on"}


@attrs.frozen
class Criterion:
    """One parsed criterion.

    Attributes:
        name: The registry name (``test.coverage``...).
        required: The canonical requirement, as reported back (``≥80%``, ``≤2 errors``).
        limit: The percentage floor (coverage) or the error ceiling (type/lint checks).
        paths: The files ``doc.updated`` wants changed.
    """

    name: str
    required: str
    limit: float | None = None
    paths: tuple[str, ...] = ()


@attrs.frozen
class CriterionResult:
    """The verdict on one criterion.

    On the wire (``runner.wire``) it is the value under its name: ``passed`` plus whichever of
    ``actual``, ``required``, ``files`` and ``details`` are set.
    """

    name: str = attrs.field(metadata=KEY)
    passed: bool
    actual: str | None = attrs.field(default=None, metadata=OMIT_NONE)
    required: str | None = attrs.field(default=None, metadata=OMIT_NONE)
    files: tuple[str, ...] | None = attrs.field(default=None, metadata=OMIT_NONE)
    details: Mapping[str, Any] = attrs.field(factory=dict, metadata=OMIT_EMPTY)


def format_percent(value: float) -> str:
    """Format a percentage rounded DOWN to one decimal, without a trailing ``.0``.

    Rounding down keeps a failing 79.96% from being shown as a passing-looking "80%".
    """
    tenths = math.floor(round(value * 10, 6))
    return f"{tenths // 10}%" if tenths % 10 == 0 else f"{tenths / 10:.1f}%"


def _number_text(value: str) -> str:
    return format(Decimal(value).normalize(), "f")


def _invalid(name: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"criteria.{name}: {message}", field=f"criteria.{name}")


def _parse_coverage(name: str, raw: str) -> Criterion:
    match = _PERCENT.match(raw)
    if match is None:
        raise _invalid(name, f"expected a percentage such as '≥80%', got {raw!r}")
    percent = float(match["n"])
    if percent > 100:
        raise _invalid(name, f"a coverage floor cannot exceed 100%, got {raw!r}")
    return Criterion(name, f"≥{_number_text(match['n'])}%", limit=percent)


def _parse_errors(name: str, raw: str) -> Criterion:
    if name == LINT_CLEAN and raw.lower() in _TRUTHY:
        raw = "0 errors"
    match = _ERRORS.match(raw)
    if match is None:
        raise _invalid(name, f"expected '0 errors' or '≤N errors', got {raw!r}")
    count = int(match["n"])
    required = "0 errors" if count == 0 else f"≤{count} errors"
    return Criterion(name, required, limit=float(count))


def _parse_doc(name: str, raw: str) -> Criterion:
    paths = tuple(p.strip().removeprefix("./") for p in raw.split(",") if p.strip())
    if not paths or any(not p or "\x00" in p or p.endswith("/") for p in paths):
        raise _invalid(name, f"expected a file name or path, got {raw!r}")
    return Criterion(name, ", ".join(paths), paths=paths)


def _parse_tests(name: str, raw: str) -> Criterion:
    if raw.lower() in _FALSY:
        raise _invalid(name, "omit the criterion instead of disabling it")
    return Criterion(name, "all tests pass")


_PARSERS = types.MappingProxyType(
    {
        COVERAGE: _parse_coverage,
        TYPE_STRICT: _parse_errors,
        LINT_CLEAN: _parse_errors,
        DOC_UPDATED: _parse_doc,
        TESTS_PASS: _parse_tests,
    }
)
SUPPORTED_CRITERIA: tuple[str, ...] = tuple(_PARSERS)
"""Every criterion name the registry knows."""


def parse_criteria(criteria: Mapping[str, Any]) -> list[Criterion]:
    """Parse a criteria map in its given order.

    Raises:
        InvalidInputError: an unknown criterion or a malformed value, with the field
            ``criteria.<name>``.
    """
    parsed: list[Criterion] = []
    for name, value in criteria.items():
        parser = _PARSERS.get(name)
        if parser is None:
            supported = ", ".join(SUPPORTED_CRITERIA)
            raise _invalid(name, f"unknown criterion (supported: {supported})")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float) or not str(value).strip():
            raise _invalid(name, "expected a non-empty string")
        parsed.append(parser(name, str(value).strip()))
    return parsed
