"""Property-based tests: marking, selection and stability over generated mixed-style lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.tasks import mark_done, parse_task_list, select_next
from tests.tasks.conftest import get

if TYPE_CHECKING:
    from runner.tasks import TaskList

STYLES = ("plain", "bullet", "checkbox", "field")


def _item(draw: st.DrawFn, task_id: str, text: str, lines: list[str]) -> None:
    style = draw(st.sampled_from(STYLES))
    done = draw(st.booleans())
    if style == "plain":
        lines.append(f"{task_id} {text}.{' ✅' if done else ''}")
    elif style == "bullet":
        lines.append(f"  - {task_id} {text}{' ✅' if done else ''}")
    elif style == "checkbox":
        lines.append(f"- [{'x' if done else ' '}] {task_id} {text}")
    else:
        lines.append(f"#### {task_id} {text}")
        lines.append(f"- **Status**: {'completed' if done else 'pending'}")


@st.composite
def task_lists(draw: st.DrawFn) -> str:
    """A list of 1-2 phases, 1-3 groups each, 1-4 tasks each, some composite, in mixed styles."""
    lines: list[str] = []
    groups: list[str] = []
    for phase in range(1, draw(st.integers(1, 2)) + 1):
        lines.append(f"Phase {phase} — Phase {phase}")
        for group in range(1, draw(st.integers(1, 3)) + 1):
            gid = f"{phase}.{group}"
            deps = draw(st.lists(st.sampled_from(groups), max_size=2)) if groups else []
            clause = f" (Dependencies: {', '.join(deps)})" if deps else ""
            lines.append(f"{gid} Group {gid}{clause}")
            groups.append(gid)
            for task in range(1, draw(st.integers(1, 4)) + 1):
                tid = f"{gid}.{task}"
                if draw(st.integers(0, 4)) == 0:
                    lines.append(f"{tid} Composite {tid}.")
                    for part in range(1, draw(st.integers(1, 2)) + 1):
                        _item(draw, f"{tid}.{part}", f"Part {part} of {tid}", lines)
                else:
                    _item(draw, tid, f"Do thing {tid} in src/m{task}.py", lines)
            if draw(st.booleans()):
                lines.extend([f"{gid}.A Validate {gid}", f"{gid}.B Verify {gid}"])
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@settings(max_examples=150, deadline=None)
@given(text=task_lists(), pick=st.integers(0, 1000))
def test_mark_done_changes_one_line_and_reparses_done(text: str, pick: int) -> None:
    before = parse_task_list(text)
    atomic = before.atomic()
    task = atomic[pick % len(atomic)]
    after_text = mark_done(text, task.id)
    after = parse_task_list(after_text)
    assert get(after, task.id).done
    old, new = text.split("\n"), after_text.split("\n")
    assert len(old) == len(new)
    changed = {n for n, (a, b) in enumerate(zip(old, new, strict=True), start=1) if a != b}
    if task.done:
        assert changed <= _checkpoint_lines(before, task.group)
    else:
        assert (task.status_line or task.line) in changed
        extra = changed - {task.status_line or task.line}
        assert extra <= _checkpoint_lines(before, task.group)
    for other in atomic:  # no other task changed state
        if other.id != task.id:
            assert get(after, other.id).done == other.done
    assert after_text.endswith("\n") == text.endswith("\n")
    assert after_text.count("\r\n") == text.count("\r\n")


def _checkpoint_lines(task_list: TaskList, group_id: str | None) -> set[int]:
    return {t.line for t in task_list.tasks if t.type == "checkpoint" and t.group == group_id}


@settings(max_examples=150, deadline=None)
@given(text=task_lists())
def test_select_never_returns_a_task_with_undone_dependency(text: str) -> None:
    task_list = parse_task_list(text)
    selection = select_next(task_list)
    if selection.task is None:
        assert all(t.done for t in task_list.atomic()) or selection.blocked
        return
    assert not selection.task.done
    for dep in selection.task.dependencies:
        under = [t for t in task_list.tasks if t.id == dep or t.id.startswith(dep + ".")]
        assert under, f"dependency {dep} names nothing"
        assert all(t.done for t in under if t.type in ("atomic", "checkpoint") and t.id == dep)
        assert all(t.done for t in under if t.type == "atomic")


@settings(max_examples=100, deadline=None)
@given(text=task_lists())
def test_parse_then_select_is_stable(text: str) -> None:
    first, second = parse_task_list(text), parse_task_list(text)
    assert first == second
    assert select_next(first) == select_next(second)


@settings(max_examples=60, deadline=None)
@given(text=task_lists())
def test_marking_selected_tasks_terminates_with_all_done(text: str) -> None:
    task_list = parse_task_list(text)
    for _ in range(len(task_list.atomic()) + 1):
        selection = select_next(task_list)
        if selection.task is None:
            break
        text = mark_done(text, selection.task.id)
        task_list = parse_task_list(text)
    if not task_list.errors:
        assert all(t.done for t in task_list.atomic())
