"""The criterion grammar and the results' wire shape."""

from __future__ import annotations

import pytest

from runner.errors import InvalidInputError
from runner.verify import Criterion, CriterionResult, format_percent, parse_criteria
from runner.wire import to_wire


@pytest.mark.parametrize(
    ("raw", "required", "limit"),
    [
        ("≥80%", "≥80%", 80.0),
        (">=80%", "≥80%", 80.0),
        ("80%", "≥80%", 80.0),
        ("≥ 92.5 %", "≥92.5%", 92.5),
        ("100%", "≥100%", 100.0),
    ],
)
def test_parse_criteria_coverage_forms(raw: str, required: str, limit: float) -> None:
    assert parse_criteria({"test.coverage": raw}) == [
        Criterion("test.coverage", required, limit=limit)
    ]


@pytest.mark.parametrize(
    ("raw", "required", "limit"),
    [
        ("0 errors", "0 errors", 0.0),
        ("≤3 errors", "≤3 errors", 3.0),
        ("<=1 error", "≤1 errors", 1.0),
        ("<= 0 errors", "0 errors", 0.0),
    ],
)
def test_parse_criteria_error_budgets(raw: str, required: str, limit: float) -> None:
    parsed = parse_criteria({"type.strict": raw, "lint.clean": raw})
    assert parsed == [
        Criterion("type.strict", required, limit=limit),
        Criterion("lint.clean", required, limit=limit),
    ]


def test_parse_criteria_doc_tests_and_lint_true() -> None:
    parsed = parse_criteria(
        {
            "doc.updated": "docs/DevTeam/task_outcomes.md, ./README.md",
            "tests.pass": True,
            "lint.clean": "true",
        }
    )
    assert parsed == [
        Criterion(
            "doc.updated",
            "docs/DevTeam/task_outcomes.md, README.md",
            paths=("docs/DevTeam/task_outcomes.md", "README.md"),
        ),
        Criterion("tests.pass", "all tests pass"),
        Criterion("lint.clean", "0 errors", limit=0.0),
    ]


@pytest.mark.parametrize(
    ("criteria", "field", "fragment"),
    [
        ({"test.speed": "fast"}, "criteria.test.speed", "unknown criterion"),
        ({"test.coverage": "eighty"}, "criteria.test.coverage", "percentage"),
        ({"test.coverage": "≥120%"}, "criteria.test.coverage", "exceed 100%"),
        ({"test.coverage": "≤80%"}, "criteria.test.coverage", "percentage"),
        ({"type.strict": "no errors"}, "criteria.type.strict", "0 errors"),
        ({"type.strict": "≥2 errors"}, "criteria.type.strict", "0 errors"),
        ({"lint.clean": "-1 errors"}, "criteria.lint.clean", "0 errors"),
        ({"doc.updated": " "}, "criteria.doc.updated", "non-empty"),
        ({"doc.updated": "docs/"}, "criteria.doc.updated", "file name"),
        ({"tests.pass": "false"}, "criteria.tests.pass", "omit the criterion"),
        ({"tests.pass": None}, "criteria.tests.pass", "non-empty"),
    ],
)
def test_parse_criteria_rejects_with_field(
    criteria: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_criteria(criteria)
    assert info.value.field == field
    assert info.value.details == [{"field": field, "message": info.value.message}]
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("value", "text"),
    [(85.0, "85%"), (79.96, "79.9%"), (66.666, "66.6%"), (100.0, "100%"), (0.04, "0%")],
)
def test_format_percent_rounds_down_to_one_decimal(value: float, text: str) -> None:
    assert format_percent(value) == text


def test_criterion_result_wire_shapes() -> None:
    coverage = CriterionResult("test.coverage", True, "85%", "≥80%")
    doc = CriterionResult("doc.updated", True, files=("docs/DevTeam/task_outcomes.md",))
    failed = CriterionResult("tests.pass", False, "1 failed: t", "all", details={"failures": ["t"]})
    assert to_wire(coverage) == {"passed": True, "actual": "85%", "required": "≥80%"}
    assert to_wire(doc) == {"passed": True, "files": ["docs/DevTeam/task_outcomes.md"]}
    assert to_wire(failed)["details"] == {"failures": ["t"]}
