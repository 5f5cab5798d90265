"""Marking a task done in the file's own style, changing only that line."""

from __future__ import annotations

import pytest

from runner.errors import InvalidInputError, NotFoundError
from runner.tasks import group_completed_by, mark_done, parse_task_list
from tests.tasks.conftest import get


def _changed(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.split("\n"), after.split("\n")
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_mark_plain_line_appends_checkmark() -> None:
    text = "1.1 A\n1.1.1 One.\n1.1.2 Two.\n"
    after = mark_done(text, "1.1.1")
    assert _changed(text, after) == [("1.1.1 One.", "1.1.1 One. ✅")]
    assert get(parse_task_list(after), "1.1.1").done


def test_mark_checkbox_ticks_the_box() -> None:
    text = "- [ ] 1.1.1 One [ ] keep\n- [ ] 1.1.2 Two\n"
    after = mark_done(text, "1.1.1")
    assert _changed(text, after) == [("- [ ] 1.1.1 One [ ] keep", "- [x] 1.1.1 One [ ] keep")]


def test_mark_field_style_sets_status() -> None:
    text = "#### 1.1.1 One\n- **Status**: in_progress  \n#### 1.1.2 Two\n"
    after = mark_done(text, "1.1.1")
    assert _changed(text, after) == [("- **Status**: in_progress  ", "- **Status**: completed  ")]


def test_mark_heading_without_status_appends_checkmark() -> None:
    after = mark_done("#### 1.1.1 One\n", "1.1.1")
    assert after == "#### 1.1.1 One ✅\n"


def test_mark_keeps_crlf_and_missing_final_newline() -> None:
    text = "1.1 A\r\n1.1.1 One.\r\n1.1.2 Two."
    assert mark_done(text, "1.1.2") == "1.1 A\r\n1.1.1 One.\r\n1.1.2 Two. ✅"
    assert mark_done(text, "1.1.1") == "1.1 A\r\n1.1.1 One. ✅\r\n1.1.2 Two."


def test_mark_last_task_of_group_marks_checkpoints() -> None:
    text = (
        "1.1 A\n1.1.1 One. ✅\n1.1.2 Two.\n1.1.A Validate\n1.1.B Verify\n"
        "    - <criterion 1: ok>\n1.1.C Document\n1.2 B\n1.2.1 Three.\n"
    )
    task_list = parse_task_list(text)
    group = group_completed_by(task_list, "1.1.2")
    assert group is not None
    assert group.id == "1.1"
    assert group_completed_by(task_list, "1.2.1") is not None  # the only task of 1.2
    after = mark_done(text, "1.1.2")
    assert _changed(text, after) == [
        ("1.1.2 Two.", "1.1.2 Two. ✅"),
        ("1.1.A Validate", "1.1.A Validate ✅"),
        ("1.1.B Verify", "1.1.B Verify ✅"),
        ("1.1.C Document", "1.1.C Document ✅"),
    ]


def test_mark_not_last_task_leaves_checkpoints() -> None:
    text = "1.1 A\n1.1.1 One.\n1.1.2 Two.\n1.1.A Validate\n"
    assert group_completed_by(parse_task_list(text), "1.1.1") is None
    assert _changed(text, mark_done(text, "1.1.1")) == [("1.1.1 One.", "1.1.1 One. ✅")]


def test_mark_is_idempotent() -> None:
    text = "- [ ] 1.1.1 One\n- [x] 1.1.2 Two\n"
    once = mark_done(text, "1.1.1")
    assert mark_done(once, "1.1.1") == once
    assert mark_done(text, "1.1.2") == text


def test_mark_unknown_task_is_not_found() -> None:
    with pytest.raises(NotFoundError, match=r"task 9\.9\.9 is not"):
        mark_done("1.1.1 One.\n", "9.9.9")


def test_mark_composite_is_invalid() -> None:
    with pytest.raises(InvalidInputError, match="composite"):
        mark_done("1.1.1 Parent.\n1.1.1.1 Child.\n", "1.1.1")


def test_marking_the_parts_completes_the_composite() -> None:
    text = mark_done("1.1.1 Parent.\n1.1.1.1 Child.\n", "1.1.1.1")
    assert get(parse_task_list(text), "1.1.1").done
