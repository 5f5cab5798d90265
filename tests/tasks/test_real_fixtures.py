"""The real task lists under ``../shared/fixtures/real`` (CONTRACT §3 gives exact answers)."""

from __future__ import annotations

import re

import pytest

from runner.tasks import mark_done, parse_task_list, select_next
from tests.tasks.conftest import REAL_FIXTURES, get, get_group, read_real

REAL = "tasks_list.md"
CLARITY = "clarity-local-runner/tasks_list.md"
CLARITY_OLD = "clarity-local-runner-7f32d75/tasks_list.md"
OUTCOMES = (
    "clarity-local-runner/task_outcomes.md",
    "clarity-local-runner-7f32d75/task_outcomes.md",
)


def test_fixtures_every_file_is_covered_here() -> None:
    if not REAL_FIXTURES.is_dir():
        pytest.skip(f"{REAL_FIXTURES} is absent (shared/fixtures is expected beside the clone)")
    found = {p.relative_to(REAL_FIXTURES).as_posix() for p in REAL_FIXTURES.rglob("*.md")}
    assert found == {REAL, CLARITY, CLARITY_OLD, *OUTCOMES}


def test_real_list_has_86_atomic_tasks_and_no_errors() -> None:
    task_list = parse_task_list(read_real(REAL))
    assert len(task_list.atomic()) == 86
    assert task_list.total == 86
    assert task_list.completed == 0
    assert task_list.errors == ()
    # the one free-text dependency ("UI components") is reported, with its line
    assert [(w.line, w.task_id) for w in task_list.warnings] == [(180, "Phase 2")]


def test_real_list_select_returns_1_1_1() -> None:
    selection = select_next(parse_task_list(read_real(REAL)))
    task = selection.task
    assert task is not None
    assert task.id == "1.1.1"
    assert task.title == "Add DEVTEAM_ENABLED flag to src/config.js"
    assert (
        task.description == "Add DEVTEAM_ENABLED flag to src/config.js with default false and JSDoc"
    )
    assert task.files == ("src/config.js",)
    assert task.dependencies == ()
    assert task.type == "atomic"
    assert task.phase == 1
    assert task.group == "1.1"
    assert task.status == "pending"
    assert task.line == 9
    assert dict(task.criteria) == {
        "test.coverage": "≥80%",
        "type.strict": "0 errors",
        "tests.pass": "true",
    }
    assert len(task.requirements) == 5
    assert task.requirements[2] == "Feature flag default is false for production builds"
    assert task.prerequisites == (
        "src/config.js",
        "src/components/tasks/TaskList.jsx",
        "src/store/index.js",
    )
    assert (selection.total, selection.completed, selection.progress) == (86, 0, 0.0)
    assert selection.dependencies_satisfied


def test_real_list_after_1_1_1_select_returns_1_1_2() -> None:
    text = mark_done(read_real(REAL), "1.1.1")
    selection = select_next(parse_task_list(text))
    task = selection.task
    assert task is not None
    assert task.id == "1.1.2"
    assert task.title == "Export DEVTEAM_RUNNER_BASE_URL in src/config.js"
    assert task.description == (
        "Export DEVTEAM_RUNNER_BASE_URL in src/config.js with placeholder value and JSDoc"
    )
    assert task.dependencies == ("1.1.1",)
    assert task.files == ("src/config.js",)
    assert (selection.completed, selection.progress) == (1, 1.2)


def test_real_list_group_and_phase_references() -> None:
    task_list = parse_task_list(read_real(REAL))
    assert get(task_list, "1.4.2").dependencies == ("1.4.1", "1.3")
    assert get_group(task_list, "1.11").dependencies == tuple(
        f"1.{n}" for n in range(1, 11)
    )  # the range 1.1-1.10
    assert get_group(task_list, "1.8").dependencies == ("1.6", "1.7")
    assert get_group(task_list, "1.9").dependencies == ("1.2", "1.3")
    assert [p.dependencies for p in task_list.phases] == [(), ("1",), ("2",)]
    assert get(task_list, "1.1.5").type == "composite"
    assert get(task_list, "1.1.A").type == "checkpoint"
    assert get_group(task_list, "1.1").checkpoints == ("1.1.A", "1.1.B", "1.1.C")


def test_real_list_bare_file_name_completed_from_the_list() -> None:
    task_list = parse_task_list(read_real(REAL))
    assert get(task_list, "2.1.1").files == ("src/store/slices/devTeamSlice.js",)
    # a composite's parts work on the composite's file
    assert get(task_list, "1.3.5.1").files == ("src/services/devTeamWebSocketService.js",)


def test_clarity_commented_phase_is_completed() -> None:
    task_list = parse_task_list(read_real(CLARITY))
    assert task_list.errors == ()
    assert task_list.warnings == ()
    done = [t.id for t in task_list.atomic() if t.done]
    assert done == [
        *(f"1.1.{n}" for n in range(1, 8)),
        *(f"1.2.{n}" for n in range(1, 4)),
        *(f"1.3.{n}" for n in range(1, 4)),
    ]
    assert task_list.phases[0].completed
    selection = select_next(task_list)
    assert selection.task is not None
    assert selection.task.id == "2.1.1"
    assert selection.task.dependencies == ("1.2", "1")
    assert selection.task.style == "bullet"
    assert (selection.total, selection.completed) == (79, 13)
    assert selection.progress == 16.5


def test_clarity_old_bullet_style_and_criteria() -> None:
    task_list = parse_task_list(read_real(CLARITY_OLD))
    assert task_list.errors == ()
    assert len(task_list.atomic()) == 198
    task = task_list.get("1.1.7")
    assert task is not None
    assert task.files == ("ai_docs/tasks/task_outcomes.md",)
    assert task.requirements[0] == "Docker services start within ≤10s (p95)"
    assert get(task_list, "4.4.1").dependencies == ("4.2", "4.3", "3")
    assert get(task_list, "8.1.1").dependencies == ("3.3", "5.2", "7")
    selection = select_next(task_list)
    assert selection.task is not None
    assert selection.task.id == "1.1.1"


@pytest.mark.parametrize("relative", [REAL, CLARITY])
def test_real_lists_mark_every_task_in_order_until_done(relative: str) -> None:
    text = read_real(relative)
    seen = []
    for _ in range(300):
        selection = select_next(parse_task_list(text))
        if selection.task is None:
            break
        seen.append(selection.task.id)
        text = mark_done(text, selection.task.id)
    final = select_next(parse_task_list(text))
    assert final.task is None
    assert final.blocked == ()
    assert final.completed == final.total
    assert final.progress == 100.0
    assert len(seen) == len(set(seen))
    # every checkpoint ends up marked too (the runner completes them with the group)
    assert all(t.done for t in parse_task_list(text).tasks)


def test_clarity_old_first_groups_in_order() -> None:
    text = read_real(CLARITY_OLD)
    seen = []
    for _ in range(19):  # groups 1.1-1.3 hold 19 atomic tasks
        selection = select_next(parse_task_list(text))
        assert selection.task is not None
        seen.append(selection.task.id)
        text = mark_done(text, selection.task.id)
    assert seen == [
        *(f"1.1.{n}" for n in range(1, 8)),
        *(f"1.2.{n}" for n in range(1, 7)),
        *(f"1.3.{n}" for n in range(1, 7)),
    ]
    selection = select_next(parse_task_list(text))
    assert selection.task is not None
    assert selection.task.id == "2.1.1"
    assert selection.task.dependencies == ("1.2", "1")


@pytest.mark.parametrize("relative", OUTCOMES)
def test_task_outcomes_sections_name_groups_of_the_list(relative: str) -> None:
    outcomes = read_real(relative)
    task_list = parse_task_list(read_real(relative.replace("task_outcomes", "tasks_list")))
    sections = re.findall(r"^### (\d+\.\d+) ", outcomes, flags=re.MULTILINE)
    group_ids = {g.id for g in task_list.groups}
    assert set(sections) <= group_ids
    parse_task_list(outcomes)  # the lenient parser takes any Markdown without raising
