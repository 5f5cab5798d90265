"""The one table (`RULES`): a new done mark or dependency form is one edit to it."""

from __future__ import annotations

import attrs

from runner.tasks import RULES, check_report, mark_done, parse_task_list, select_next
from tests.tasks.conftest import get

BALLOT = "1.1 Setup\n☑ 1.1.1 Do a\n1.1.2 Do b ☑\n- [ ] 1.1.3 Do c\n1.1.4 Do d\n"
AFTER = "1.1 Setup\n1.1.1 Do a\n1.1.2 Do b\n1.1.3 Do c (after 1.1.1)\n1.1.4 Do d (After 9.9)\n"


def test_rules_with_a_new_done_mark_read_it_leading_and_trailing() -> None:
    rules = attrs.evolve(RULES, done_marks=(*RULES.done_marks, "☑"))  # the one edit
    task_list = parse_task_list(BALLOT, rules=rules)
    assert [(t.id, t.done) for t in task_list.atomic()] == [
        ("1.1.1", True),
        ("1.1.2", True),
        ("1.1.3", False),
        ("1.1.4", False),
    ]
    assert (get(task_list, "1.1.1").title, get(task_list, "1.1.2").title) == ("Do a", "Do b")
    selected = select_next(task_list).task
    assert selected is not None
    assert selected.id == "1.1.3"
    report, failed = check_report(BALLOT, rules=rules)
    assert "[x] 1.1.1 Do a" in report
    assert "[x] 1.1.2 Do b" in report
    assert not failed


def test_default_rules_do_not_know_the_new_done_mark() -> None:
    task_list = parse_task_list(BALLOT)
    assert task_list.get("1.1.1") is None  # "☑ 1.1.1" is no item line without the mark
    assert not get(task_list, "1.1.2").done


def test_marker_appends_the_tables_first_done_mark_and_changes_nothing_else() -> None:
    rules = attrs.evolve(RULES, done_marks=("☑", *RULES.done_marks))
    marked = mark_done(BALLOT, "1.1.4", rules=rules)
    assert marked == BALLOT.replace("1.1.4 Do d", "1.1.4 Do d ☑")
    assert get(parse_task_list(marked, rules=rules), "1.1.4").done
    assert mark_done(BALLOT, "1.1.3", rules=rules) == BALLOT.replace("[ ] 1.1.3", "[x] 1.1.3")


def test_rules_with_a_new_dependency_form_read_it() -> None:
    rules = attrs.evolve(RULES, dependency_forms=(*RULES.dependency_forms, r"after\b"))
    task_list = parse_task_list(AFTER, rules=rules)
    third = get(task_list, "1.1.3")
    assert (third.title, third.dependencies) == ("Do c", ("1.1.1",))
    assert get(task_list, "1.1.4").dependencies == ("9.9",)
    assert [(e.line, e.message) for e in task_list.errors] == [(5, "1.1.4 depends on unknown 9.9")]
    report, failed = check_report(AFTER, rules=rules)
    assert "1.1.4 depends on unknown 9.9" in report
    assert failed


def test_default_rules_do_not_know_the_new_dependency_form() -> None:
    task_list = parse_task_list(AFTER)
    third = get(task_list, "1.1.3")
    assert (third.title, third.dependencies) == ("Do c (after 1.1.1)", ("1.1.2",))
    assert task_list.errors == ()
