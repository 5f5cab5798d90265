"""SELECT: order, dependencies, blocked reasons, excludeCompleted, the check report."""

from __future__ import annotations

from runner.tasks import check_report, list_tasks, parse_task_list, select_next

LIST = """\
Phase 1 — One
1.1 A
1.1.1 One. ✅
1.1.2 Two.
1.2 B (Dependencies: 1.1)
1.2.1 Three.
"""


def test_select_waits_for_group_dependency() -> None:
    text = LIST.replace("1.1.2 Two.", "1.1.2 Two (Dependencies: 1.2.1)")
    task_list = parse_task_list(text)
    assert len(task_list.errors) == 1  # 1.1.2 -> 1.2.1 -> 1.1 -> 1.1.2
    selection = select_next(task_list)
    assert selection.task is None
    assert [(b.task_id, b.waiting_for) for b in selection.blocked] == [
        ("1.1.2", ("1.2.1",)),
        ("1.2.1", ("1.1",)),
    ]


def test_select_reports_passed_over_tasks() -> None:
    text = LIST.replace("1.1.2 Two.", "1.1.2 Two (Dependencies: 1.2.1)").replace(
        "1.2 B (Dependencies: 1.1)", "1.2 B"
    )
    selection = select_next(parse_task_list(text))
    assert selection.task is not None
    assert selection.task.id == "1.2.1"
    assert [b.reason for b in selection.blocked] == ["waiting for 1.2.1"]
    assert (selection.total, selection.completed, selection.progress) == (3, 1, 33.3)


def test_select_exclude_completed_false_returns_first_task() -> None:
    task_list = parse_task_list(LIST)
    selection = select_next(task_list, exclude_completed=False)
    assert selection.task is not None
    assert selection.task.id == "1.1.1"
    assert selection.task.done
    assert [t.id for t in list_tasks(task_list)] == ["1.1.2", "1.2.1"]
    assert [t.id for t in list_tasks(task_list, exclude_completed=False)] == [
        "1.1.1",
        "1.1.2",
        "1.2.1",
    ]


def test_select_nothing_left() -> None:
    text = LIST.replace("Two.", "Two. ✅").replace("Three.", "Three. ✅")
    selection = select_next(parse_task_list(text))
    assert selection.task is None
    assert selection.blocked == ()
    assert selection.dependencies_satisfied
    assert selection.progress == 100.0


def test_check_report_shows_tree_next_and_issues() -> None:
    report, has_errors = check_report(LIST + "1.3 C (Dependencies: 7.7)\n1.3.1 Four.\n")
    assert has_errors
    assert "Phase 1 — One  [line 1]" in report
    assert "    [x] 1.1.1 One  [line 3]" in report
    assert "  1.1 A  (1/2 done)  [line 2]" in report
    assert "Next task: 1.1.2 Two  [line 4]" in report
    assert "Atomic tasks: 4, completed: 1, remaining: 3, progress: 25.0%" in report
    assert "Errors (1):\n  line 7: 1.3 depends on unknown 7.7" in report
    assert "Warnings: none" in report


def test_check_report_clean_list_has_no_errors() -> None:
    report, has_errors = check_report(LIST)
    assert not has_errors
    assert "Errors: none" in report
