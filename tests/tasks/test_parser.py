"""Hand-written lists of each style and their mixes; validation errors and warnings."""

from __future__ import annotations

from runner.tasks import parse_task_list, select_next
from tests.tasks.conftest import get, get_group

FIELD_STYLE = """\
## Phase 1: Core

### 1.1 Setup
#### 1.1.1 Add the flag
- **Description**: Add the flag to src/config.py with a default.
- **Type**: atomic
- **Status**: completed
- **Dependencies**: none
- **Files**: `src/config.py`, `docs/flags.md`
- **Criteria**:
  - test.coverage: ≥90%
  - type.strict: 0 errors

#### 1.1.2 Read the flag
- **Status**: in_progress
- **Dependencies**: 1.1.1
- **Files**:
  - src/app.py

#### 1.1.3 Document it
- **Status**: blocked

#### 1.1.4 Old idea
- **Status**: cancelled
"""

CHECKBOX_STYLE = """\
# Tasks
- [x] 1.1 Setup
  - [x] 1.1.1 Create [src/a.py](src/a.py:10)
- [ ] 1.2 Build (Dependencies: 1.1)
  - [x] 1.2.1 Write src/b.py.
  - [ ] 1.2.2 Write src/c.py with tests
  - [ ] Something without an id
"""


def test_field_style_reads_fields() -> None:
    task_list = parse_task_list(FIELD_STYLE)
    assert task_list.errors == ()
    first = get(task_list, "1.1.1")
    assert first.title == "Add the flag"
    assert first.description == "Add the flag to src/config.py with a default"
    assert first.files == ("src/config.py", "docs/flags.md")
    assert dict(first.criteria) == {"test.coverage": "≥90%", "type.strict": "0 errors"}
    assert first.status == "completed"
    assert first.done
    assert first.style == "field"
    assert first.status_line == 7
    second = get(task_list, "1.1.2")
    assert second.status == "in_progress"
    assert second.files == ("src/app.py",)
    assert second.dependencies == ("1.1.1",)
    assert dict(second.criteria) == {
        "test.coverage": "≥80%",
        "type.strict": "0 errors",
        "tests.pass": "true",
    }
    assert get(task_list, "1.1.3").status == "blocked"
    assert get(task_list, "1.1.4").status == "cancelled"
    assert task_list.total == 3  # the cancelled task does not count
    assert task_list.completed == 1


def test_field_style_select_skips_blocked_status_and_cancelled() -> None:
    text = FIELD_STYLE.replace("- **Status**: in_progress", "- **Status**: completed")
    selection = select_next(parse_task_list(text))
    assert selection.task is None
    assert not selection.dependencies_satisfied
    assert [(b.task_id, b.reason) for b in selection.blocked] == [
        ("1.1.3", "the task's status is blocked")
    ]


def test_custom_default_criteria() -> None:
    task_list = parse_task_list(FIELD_STYLE, default_criteria={"doc.updated": "README.md"})
    assert dict(get(task_list, "1.1.2").criteria) == {"doc.updated": "README.md"}
    assert dict(get(task_list, "1.1.1").criteria)["test.coverage"] == "≥90%"


def test_checkbox_style_done_marks_and_orphans() -> None:
    task_list = parse_task_list(CHECKBOX_STYLE)
    assert [t.id for t in task_list.atomic() if t.done] == ["1.1.1", "1.2.1"]
    assert get(task_list, "1.1.1").files == ("src/a.py",)
    assert get(task_list, "1.2.2").title == "Write src/c.py"
    assert get(task_list, "1.2.2").dependencies == ("1.2.1", "1.1")
    assert get(task_list, "1.2.2").style == "checkbox"
    assert [w.line for w in task_list.warnings] == [7]
    assert "without a task id" in task_list.warnings[0].message
    assert select_next(task_list).task == get(task_list, "1.2.2")


def test_plain_style_checkmark_and_ranges_with_hyphen() -> None:
    text = (
        "1.1 A\n1.1.1 One. ✅\n1.1.2 Two.\n"
        "1.2 B\n1.2.1 Three.\n"
        "1.3 C (Dependencies: 1.1-1.2, Task 1.1.1)\n1.3.1 Four.\n"
    )
    task_list = parse_task_list(text)
    assert task_list.errors == ()
    assert get(task_list, "1.1.1").done
    assert get(task_list, "1.1.1").description == "One"
    assert get_group(task_list, "1.3").dependencies == ("1.1", "1.2", "1.1.1")
    assert get(task_list, "1.3.1").dependencies == ("1.1", "1.2", "1.1.1")


def test_bullet_style_with_bullets_and_mixed_checkbox() -> None:
    text = (
        "Phase 1: One (Dependencies: [])\n"
        "- 1.1 Group (Dependencies: [])\n"
        "  - 1.1.1 Bullet task ✅\n"
        "  - [ ] 1.1.2 Checkbox task\n"
        "    • <criterion 1: It works [source: PRD]>\n"
        "#### 1.1.3 Heading task\n"
        "- **Status**: pending\n"
    )
    task_list = parse_task_list(text)
    assert [t.style for t in task_list.atomic()] == ["bullet", "checkbox", "field"]
    assert get_group(task_list, "1.1").requirements == ("It works",)
    assert get(task_list, "1.1.3").dependencies == ("1.1.2",)
    assert select_next(task_list).task == get(task_list, "1.1.2")


def test_unknown_reference_is_an_error_and_blocks() -> None:
    text = "1.1 A (Dependencies: 9.9 Missing)\n1.1.1 One.\n"
    task_list = parse_task_list(text)
    assert [(e.line, e.message) for e in task_list.errors] == [(1, "1.1 depends on unknown 9.9")]
    selection = select_next(task_list)
    assert selection.task is None
    assert selection.blocked[0].task_id == "1.1.1"
    assert selection.blocked[0].waiting_for == ("9.9",)
    assert selection.blocked[0].reason == "unknown dependency 9.9"


def test_unknown_range_is_an_error() -> None:
    task_list = parse_task_list("1.1 A (Dependencies: 1.5\u20131.7)\n1.1.1 One.\n")
    assert [e.message for e in task_list.errors] == ["1.1 depends on unknown range 1.5\u20131.7"]


def test_self_dependency_is_an_error() -> None:
    text = "1.1 A (Dependencies: 1.1)\n1.1.1 One.\n1.1.2 Two (Dependencies: 1.1.2)\n"
    task_list = parse_task_list(text)
    assert [(e.line, e.message) for e in task_list.errors] == [
        (1, "1.1 depends on itself"),
        (3, "1.1.2 depends on itself"),
    ]


def test_one_reference_to_a_container_or_a_part_is_an_error() -> None:
    text = (
        "Phase 1 (Dependencies: 1.1)\n"
        "1.1 A (Dependencies: 1.1.1)\n1.1.1 One (Dependencies: 1.1)\n1.1.2 Two (Dependencies: 1)\n"
    )
    task_list = parse_task_list(text)
    assert [(e.line, e.message) for e in task_list.errors] == [
        (1, "Phase 1 depends on its own part 1.1"),
        (2, "1.1 depends on its own part 1.1.1"),
        (3, "1.1.1 depends on 1.1, which contains it"),
        (4, "1.1.2 depends on 1, which contains it"),
    ]


def test_cycle_is_spelled_out_with_lines() -> None:
    text = "1.1 A (Dependencies: 1.2)\n1.1.1 One.\n1.2 B (Dependencies: 1.1)\n1.2.1 Two.\n"
    task_list = parse_task_list(text)
    assert [(e.line, e.message) for e in task_list.errors] == [
        (
            2,
            "dependency cycle: 1.1.1 (line 2) → 1.2 (line 3) → 1.2.1 (line 4) → 1.1 (line 1)"
            " → 1.1.1 (line 2)",
        )
    ]
    selection = select_next(task_list)
    assert selection.task is None
    assert [b.task_id for b in selection.blocked] == ["1.1.1", "1.2.1"]


def test_task_level_cycle() -> None:
    text = "1.1 A\n1.1.1 One (Dependencies: 1.1.2)\n1.1.2 Two.\n"
    task_list = parse_task_list(text)
    assert [e.message for e in task_list.errors] == [
        "dependency cycle: 1.1.1 (line 2) → 1.1.2 (line 3) → 1.1.1 (line 2)"
    ]


def test_duplicate_id_is_an_error() -> None:
    task_list = parse_task_list("1.1 A\n1.1.1 One.\n1.1.1 Again.\n")
    assert [(e.line, e.task_id) for e in task_list.errors] == [(3, "1.1.1")]
    assert get(task_list, "1.1.1").description == "One"


def test_commented_block_without_completed_line_warns() -> None:
    text = "<!--\n1.1 A\n1.1.1 One.\n-->\n1.2 B\n1.2.1 Two.\n"
    task_list = parse_task_list(text)
    assert get(task_list, "1.1.1").done
    assert [w.line for w in task_list.warnings] == [1]
    assert select_next(task_list).task == get(task_list, "1.2.1")


def test_phase_completed_line_marks_the_phase_done() -> None:
    text = "Phase 1 — A\n1.1 A\n1.1.1 One.\nPHASE 1 COMPLETED\nPhase 2 — B\n2.1 B\n2.1.1 Two.\n"
    task_list = parse_task_list(text)
    assert get(task_list, "1.1.1").done
    assert task_list.warnings == ()
    assert task_list.phases[0].completed


def test_fenced_code_is_ignored_and_crlf_is_read() -> None:
    text = "1.1 A\r\n1.1.1 One.\r\n```\r\n1.1.2 Not a task\r\n```\r\n"
    task_list = parse_task_list(text)
    assert [t.id for t in task_list.atomic()] == ["1.1.1"]
    assert get(task_list, "1.1.1").description == "One"


def test_unknown_field_and_status_are_warnings() -> None:
    text = "#### 1.1.1 One\n- **Statsu**: done\n- **Status**: finished\n"
    task_list = parse_task_list(text)
    assert [w.line for w in task_list.warnings] == [2, 3]
    assert get(task_list, "1.1.1").status == "pending"


def test_empty_text_has_no_tasks() -> None:
    task_list = parse_task_list("")
    selection = select_next(task_list)
    assert (selection.task, selection.total, selection.progress) == (None, 0, 0.0)
    assert selection.dependencies_satisfied
