"""The per-customer memo of the parsed task list."""

from __future__ import annotations

from runner.pipeline import TaskListMemo
from runner.tasks import parse_task_list

LIST = "# Tasks\n\n1.1 Setup (Dependencies: none)\n1.1.1 Add a flag\n1.1.2 Use the flag\n"


def test_the_memo_parses_again_only_when_the_text_or_the_defaults_change() -> None:
    memo = TaskListMemo()
    first = memo.parse(LIST, None)
    assert [t.id for t in first.tasks] == [t.id for t in parse_task_list(LIST).tasks]
    assert memo.parse(LIST, None) is first  # same text: the same parse

    done = LIST.replace("1.1.1 Add a flag", "1.1.1 Add a flag ✅")
    changed = memo.parse(done, None)
    assert changed is not first
    assert changed.get("1.1.1").status == "completed"  # type: ignore[union-attr]

    defaults = {"test.coverage": "≥90%"}
    with_defaults = memo.parse(done, defaults)
    assert with_defaults is not changed
    assert with_defaults.get("1.1.2").criteria == defaults  # type: ignore[union-attr]
    assert memo.parse(done, dict(defaults)) is with_defaults  # equal defaults: reused


def test_the_memo_answers_for_the_commit_it_was_read_from() -> None:
    memo = TaskListMemo()
    path = "docs/DevTeam/tasks_list.md"
    assert memo.at(("a" * 40, path), None) is None  # nothing read yet
    first = memo.parse(LIST, None, ("a" * 40, path))
    assert memo.at(("a" * 40, path), None) is first
    assert memo.at(("b" * 40, path), None) is None  # another commit: read it again
    assert memo.at(("a" * 40, "other.md"), None) is None  # another file
    assert memo.at(("a" * 40, path), {"test.coverage": "≥90%"}) is None  # other defaults
    memo.parse(LIST, None)  # read from nowhere known (no commit): the next read is a miss
    assert memo.at(("a" * 40, path), None) is None
