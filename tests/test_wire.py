"""The wire form: stage results camelCased in one place, as the API's view models describe."""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs
import pytest
from pydantic import BaseModel
from pydantic.alias_generators import to_camel as pydantic_camel

from runner.api.models import ImplementView, PrepView, TaskNextView, VerifyView
from runner.pipeline import (
    CompleteResult,
    ImplementArtifacts,
    ImplementResult,
    PrepArtifacts,
    PrepResult,
    SelectResult,
    VerifyResult,
)
from runner.pipeline.repair import Attempt
from runner.tasks import Blocked, Task
from runner.verify import CriterionResult
from runner.wire import from_wire, to_camel, to_wire

TASK = Task(id="1.1.1", title="Add a", description="d", type="atomic", dependencies=("1.1",),
            files=("a.py",), criteria={"tests.pass": "true"}, requirements=("r",),
            prerequisites=(), line=7, group="1.1", phase=1, status="pending", style="checkbox",
            status_line=None)  # fmt: skip
PREP = PrepResult("1.1.1", "task/1-1-1-add-a", "/w/acme",
                  PrepArtifacts(True, True, "", "/w/acme"))  # fmt: skip
IMPLEMENT = ImplementResult(
    task_id="1.1.1",
    tool="aider",
    artifacts=ImplementArtifacts(
        diff="+a",
        stdout="",
        stderr="",
        files_modified=("a_b.py",),
        lines_changed=1,
        out_of_scope=(),
        commit="f" * 40,
        tokens={"sent": 3},
        cost=None,
    ),
    attempt=2,
    prompt="Task 1.1.1",
    duration=1.5,
    tool_duration=1.25,
)
VERIFY = VerifyResult(
    "1.1.1",
    {
        "tests.pass": CriterionResult("tests.pass", True, "3 passed", "true"),
        "doc.updated": CriterionResult("doc.updated", True, files=("docs/my_notes.md",)),
        "test.coverage": CriterionResult(
            "test.coverage", False, "50%", "≥80%", details={"per_file": {"a_b.py": 50}}
        ),
    },
    {"junit": "report"},
)


def test_records_are_camel_cased_and_data_keys_are_kept() -> None:
    wire = to_wire(IMPLEMENT)
    assert wire["toolDuration"] == 1.25
    assert wire["artifacts"]["filesModified"] == ["a_b.py"]
    assert wire["artifacts"]["tokens"] == {"sent": 3}  # a mapping's keys are data
    results = to_wire(VERIFY)["results"]
    assert results["tests.pass"] == {"passed": True, "actual": "3 passed", "required": "true"}
    assert results["doc.updated"] == {"passed": True, "files": ["docs/my_notes.md"]}  # KEY, None
    assert results["test.coverage"]["details"] == {"per_file": {"a_b.py": 50}}
    assert "notes" not in to_wire(VERIFY)  # OMIT_EMPTY
    assert to_wire(attrs.evolve(VERIFY, notes=("lock out of sync",)))["notes"] == [
        "lock out of sync"
    ]


def test_private_fields_never_leave() -> None:
    wire = to_wire(TASK)
    assert not {"style", "statusLine"} & set(wire)
    assert (wire["dependencies"], wire["line"]) == (["1.1"], 7)


def test_computed_fields_of_select_are_on_the_wire() -> None:
    found = to_wire(SelectResult(TASK, total_tasks=3, completed_tasks=1))
    assert (found["dependenciesSatisfied"], found["progress"]) == (True, 33.3)
    assert "blocked" not in found
    none = to_wire(SelectResult(None, 2, 0, (Blocked("1.1.2", ("1.1.1",), "waits"),)))
    assert none["blocked"] == [{"taskId": "1.1.2", "waitingFor": ["1.1.1"], "reason": "waits"}]
    assert to_wire(SelectResult(None, 0, 0))["progress"] == 100.0


def test_an_attempt_lists_results_only_when_it_has_some() -> None:
    assert to_wire(Attempt(1, "implement", "tool_no_change", "no change")) == {
        "attempt": 1, "stage": "implement", "code": "tool_no_change", "message": "no change"
    }  # fmt: skip


@pytest.mark.parametrize("result", [PREP, IMPLEMENT, VERIFY], ids=type)
def test_a_recorded_result_reads_back_as_it_was(result: Any) -> None:
    assert from_wire(type(result), to_wire(result)) == result


def test_a_body_of_another_shape_is_not_read_back() -> None:
    with pytest.raises(TypeError):
        from_wire(ImplementResult, {"taskId": "1.1.1", "tool": "aider"})


def _records(cls: type) -> list[type]:
    found = [cls]
    for hint in typing.get_type_hints(cls).values():
        for arg in (hint, *typing.get_args(hint), *(a for h in typing.get_args(hint)
                                                    for a in typing.get_args(h))):  # fmt: skip
            if isinstance(arg, type) and attrs.has(arg) and arg not in found:
                found += _records(arg)
    return found


@pytest.mark.parametrize(
    "cls", [PrepResult, ImplementResult, VerifyResult, SelectResult, CompleteResult, Attempt]
)
def test_the_camel_rule_is_the_api_models_rule(cls: type) -> None:
    for record in _records(cls):
        for field in attrs.fields(record):
            assert to_camel(field.name) == pydantic_camel(field.name), (record, field.name)


def _undeclared(view: type[BaseModel], wire: dict[str, Any], at: str = "") -> list[str]:
    """The keys of ``wire`` that ``view`` (and its nested views) does not declare."""
    fields = {field.alias or name: field for name, field in view.model_fields.items()}
    missing: list[str] = []
    for key, value in wire.items():
        field = fields.get(key)
        if field is None:
            missing.append(at + key)
            continue
        for nested in _views(field.annotation):
            items = value if isinstance(value, list) else [value]
            if typing.get_origin(field.annotation) is dict or _is_dict_of(field.annotation):
                items = list(value.values())
            for item in items:
                if isinstance(item, dict):
                    missing += _undeclared(nested, item, f"{at}{key}.")
    return missing


def _views(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [v for arg in typing.get_args(annotation) for v in _views(arg)]


def _is_dict_of(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(typing.get_origin(a) is dict for a in typing.get_args(annotation))
    return False


@pytest.mark.parametrize(
    ("view", "result"),
    [
        (PrepView, PREP),
        (ImplementView, IMPLEMENT),
        (VerifyView, VERIFY),
        (TaskNextView, SelectResult(TASK, 3, 1)),
        (TaskNextView, SelectResult(None, 2, 0, (Blocked("1.1.2", ("1.1.1",), "waits"),))),
    ],
)
def test_every_field_on_the_wire_is_described_by_its_view(
    view: type[BaseModel], result: Any
) -> None:
    wire = to_wire(result)
    if view is PrepView:  # the route adds the customer (and the idempotency key)
        wire["customerId"] = "acme"
    view.model_validate(wire)
    assert _undeclared(view, wire) == []
