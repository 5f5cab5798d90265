"""Edge cases once met by the parser: bare file names, inert comments, clauses, containers."""

from __future__ import annotations

from runner.tasks import parse_task_list, select_next
from tests.tasks.conftest import get, get_group

STRADDLING = """\
1.1 Store
1.1.1 Fix devTeamSlice.js
1.1.2 Edit src/store/[devTeam](docs/a.md)Slice.js with care
"""

FIELD_DESCRIPTION = """\
#### 1.1.1 Fix the slice
- **Description**: Fix devTeamSlice.js
- **Status**: pending

#### 1.1.2 Write it
- **Description**: Write [the slice](src/store/devTeamSlice.js)
"""

UNMARKED = """\
Phase 1 — Core (Dependencies: [src/app.js](src/app.js))
1.1 Setup
1.1.1 Add the flag to src/config.js. ✅
1.1.2 Read the flag in src/app.js
    - **Files**: src/app.js
1.1.A Validate
    - <criterion 1: Works>  [source: prd.md](docs/prd.md)
"""


def test_bare_name_is_completed_through_a_straddling_link() -> None:
    task_list = parse_task_list(STRADDLING)
    assert get(task_list, "1.1.1").files == ("src/store/devTeamSlice.js",)


def test_bare_name_is_completed_through_a_field_description() -> None:
    task_list = parse_task_list(FIELD_DESCRIPTION)
    assert get(task_list, "1.1.1").files == ("src/store/devTeamSlice.js",)


def test_text_without_comment_markers_reads_as_with_an_inert_comment() -> None:
    plain = parse_task_list(UNMARKED)
    # an empty, closed comment block after the list switches to the line-by-line path
    marked = parse_task_list(UNMARKED + "<!-- -->\n")
    assert plain.tasks == marked.tasks
    assert plain.groups == marked.groups
    assert plain.warnings == marked.warnings
    assert select_next(plain) == select_next(marked)
    assert get(plain, "1.1.1").done
    assert select_next(plain).task == get(plain, "1.1.2")


def _reads_as_with_an_inert_comment(text: str) -> None:
    """The bulk scan of an unmarked text reads it as the line-by-line scan does."""
    plain = parse_task_list(text)
    marked = parse_task_list(text + "<!-- -->\n")
    assert plain.tasks == marked.tasks
    assert plain.groups == marked.groups
    assert plain.warnings == marked.warnings
    assert plain.errors == marked.errors
    assert select_next(plain) == select_next(marked)


def test_non_ascii_digit_ids_read_the_same_on_both_paths() -> None:
    text = "\u0661.\u0661 Group\n\u0661.\u0661.\u0661 Task one\n\u0661.\u0661.\u0662 Task two ✅\n"
    _reads_as_with_an_inert_comment(text)
    ids = ["\u0661.\u0661.\u0661", "\u0661.\u0661.\u0662"]
    assert [t.id for t in parse_task_list(text).atomic()] == ids


def test_criterion_bullets_and_other_angle_bullets() -> None:
    text = (
        "1.1 Setup\n1.1.1 Do it\n"
        "- <criterion 1: Works>  [source: prd.md](docs/prd.md)\n"
        "  * <Criterion 2: Fast>\n"
        "+\t<criterion 3: Small>\n"
        "• <criterion 4: Kind>\n"
        "-<criterion 5: Tight>\n"
        "- <not a criterion>\n"
        "1.2 Next\n- <criterion 1: Alone>\n"
    )
    _reads_as_with_an_inert_comment(text)
    task_list = parse_task_list(text)
    assert get_group(task_list, "1.1").requirements == ("Works", "Fast", "Small", "Kind", "Tight")
    assert get(task_list, "1.2").requirements == ("Alone",)  # a leaf: atomic, with its bullets
    assert task_list.warnings == ()


def test_clauses_with_and_without_separators() -> None:
    text = (
        "1.1 A\n1.1.1 a\n1.2 B\n1.2.1 b\n1.3 C\n1.3.1 c\n"
        "1.4 D (Dependencies: 1.1 AND 1.2; 1.3 & 1.1)\n1.4.1 d\n"
        "1.5 E (Dependencies: Brandt's 1.1 work)\n1.5.1 e\n"
        "1.6 F (Dependencies: 1.2 (the build), 1.3)\n1.6.1 f\n"
    )
    _reads_as_with_an_inert_comment(text)
    task_list = parse_task_list(text)
    assert get_group(task_list, "1.4").dependencies == ("1.1", "1.2", "1.3")
    assert get_group(task_list, "1.5").dependencies == ("1.1",)
    assert get_group(task_list, "1.6").dependencies == ("1.2", "1.3")
    assert get_group(task_list, "1.6").title == "F"


def test_bare_name_is_completed_through_links_glued_either_side() -> None:
    text = (
        "1.1 Store\n1.1.1 Fix devTeamSlice.js\n"
        "1.1.2 Edit [src/store/devTeam](docs/a.md)Slice.js\n"
        "1.2 Other\n1.2.1 Fix otherSlice.js\n"
        "1.2.2 Edit lib/other![Slice.js](docs/b.png)\n"
    )
    task_list = parse_task_list(text)
    assert get(task_list, "1.1.1").files == ("src/store/devTeamSlice.js",)
    assert get(task_list, "1.2.1").files == ("lib/otherSlice.js",)


def test_tasks_and_containers_of_a_composite_with_a_checkpoint() -> None:
    text = "1.1.1 Composite\n1.1.1.1 Part ✅\n1.1.1.2 Part two\n1.1.A Check\n2.1 Later\n2.1.1 x\n"
    _reads_as_with_an_inert_comment(text)
    task_list = parse_task_list(text)
    assert [(t.id, t.type, t.status) for t in task_list.tasks] == [
        ("1.1.1", "composite", "pending"),
        ("1.1.1.1", "atomic", "completed"),
        ("1.1.1.2", "atomic", "pending"),
        ("1.1.A", "checkpoint", "pending"),
        ("2.1.1", "atomic", "pending"),
    ]
    part = get(task_list, "1.1.1.2")
    assert (part.dependencies, part.line) == (("1.1.1.1",), 3)
    assert task_list.get("2.1") is None  # a group, not a task
    assert all(task_list.knows(ref) for ref in ("1", "1.1", "1.1.1", "2", "2.1", "2.1.1"))
    assert not any(task_list.knows(ref) for ref in ("3", "1.2", "1.1.2", "2.1.1.1"))


def test_a_group_clause_pointing_forward_is_a_cycle_only_when_it_closes_one() -> None:
    forward = "1.1 A (Dependencies: 1.2)\n1.1.1 a\n1.1.2 b\n1.2 B\n1.2.1 c\n"
    assert parse_task_list(forward).errors == ()
    assert select_next(parse_task_list(forward)).task == get(parse_task_list(forward), "1.2.1")
    cycle = forward.replace("1.2 B", "1.2 B (Dependencies: 1.1.2)")
    errors = parse_task_list(cycle).errors
    assert [(e.line, e.message) for e in errors] == [
        (
            2,
            "dependency cycle: 1.1.1 (line 2) → 1.2 (line 4) → 1.2.1 (line 5) → 1.1.2 (line 3)"
            " → 1.1.1 (line 2)",
        )
    ]


def test_one_group_made_alone_is_the_group_made_with_the_others() -> None:
    text = (
        "Phase 1 — Core (Dependencies: [src/app.js](src/app.js))\n"
        "1.1 Setup\n1.1.1 a\n1.1.A Check\n- <criterion 1: Works>\n"
        "1.2 Build (Dependencies: 1.1)\n1.2.1 b\n1.2.1.1 part ✅\n1.2.2 c\n1.3.1 orphan\n"
    )
    whole = parse_task_list(text)
    for group in whole.groups:
        alone = parse_task_list(text).group(group.id)  # before any other group is made
        assert alone == group
    assert [g.id for g in whole.groups] == ["1.1", "1.2", "1.3"]
    assert parse_task_list(text).group("1.4") is None
    assert parse_task_list(text).group("1.2.1") is None  # a composite task, not a group


def test_parts_inherit_the_clause_of_an_ancestor_task_whose_child_has_no_line() -> None:
    # 1.1 has no part of its own (1.1.1 has no line), so it is a task, yet 1.1.1.1 is under it
    text = "1.1.1.1 part of 1.1.1\n1.1 Group again (Dependencies: 1.2)\n1.1.1.A lettered part\n"
    task_list = parse_task_list(text)
    assert get(task_list, "1.1").type == "atomic"
    assert get(task_list, "1.1.1.1").dependencies == ("1.2",)
    assert get(task_list, "1.1.1.A").dependencies == ("1.1.1", "1.2")
    selection = select_next(task_list)
    assert selection.task is None
    assert [b.reason for b in selection.blocked] == ["unknown dependency 1.2"] * 2


def test_criterion_bullets_with_odd_indents_and_cases_read_the_same_on_both_paths() -> None:
    text = (
        "1.1 Setup\n1.1.1 Do it\n"
        "\t-\t<  CRITERION 1 (main): Works: fully>\n"
        "\u3000* <criterion: Unnumbered>\n"
        "- <criteria 2: Plural is no criterion>\n"
        "-  <criterion2: Glued number>\n"
    )
    _reads_as_with_an_inert_comment(text)
    requirements = get_group(parse_task_list(text), "1.1").requirements
    assert requirements == ("Works: fully", "Unnumbered")


def test_bare_name_named_on_many_lines_and_on_a_phase_line() -> None:
    text = (
        "Phase 1 — Core (Dependencies: [lib/app.js](lib/app.js))\n"
        "1.1 Setup\n1.1.1 Edit app.js\n1.1.2 Test app.js and app.js again\n"
        "1.1.3 Fix app.js ✅\n1.2 More\n1.2.1 Ship app.js\n"
    )
    task_list = parse_task_list(text)
    assert [get(task_list, f"1.1.{n}").files for n in (1, 2, 3)] == [("lib/app.js",)] * 3
    assert get(task_list, "1.2.1").files == ("lib/app.js",)
    two = text + "1.2.2 Read [src/app.js](src/app.js)\n"
    assert get(parse_task_list(two), "1.1.1").files == ("app.js",)  # two full paths: ambiguous


def test_select_starts_after_the_leading_completed_tasks_whatever_the_open_status() -> None:
    text = (
        "1.1 A\n1.1.1 a ✅\n1.1.2 b ✅\n1.1.A check\n"
        "#### 1.1.3 c\n- **Status**: blocked\n"
        "1.2 B\n#### 1.2.1 d\n- **Status**: in_progress\n1.2.2 e\n"
    )
    selection = select_next(parse_task_list(text))
    assert [b.task_id for b in selection.blocked] == ["1.1.3"]
    assert selection.task is not None
    assert selection.task.id == "1.2.1"
    everything = select_next(parse_task_list(text), exclude_completed=False)
    assert everything.task is not None
    assert everything.task.id == "1.1.1"
    done = select_next(parse_task_list("1.1 A\n1.1.1 a ✅\n1.1.2 b ✅\n"))
    assert (done.task, done.blocked, done.progress) == (None, (), 100.0)


def test_a_task_clause_pointing_forward_is_a_cycle_only_when_it_closes_one() -> None:
    forward = "1.1 A\n1.1.1 a\n1.1.2 b (Dependencies: 1.2)\n1.1.3 c\n1.2 B\n1.2.1 d\n"
    assert parse_task_list(forward).errors == ()
    assert get(parse_task_list(forward), "1.1.3").dependencies == ("1.1.2",)
    cycle = forward.replace("1.2.1 d", "1.2.1 d (Dependencies: 1.1.3)")
    messages = [e.message for e in parse_task_list(cycle).errors]
    assert messages == [
        "dependency cycle: 1.1.2 (line 3) → 1.2 (line 5) → 1.2.1 (line 6) → 1.1.3 (line 4)"
        " → 1.1.2 (line 3)"
    ]


def test_known_containers_are_the_phase_and_group_parts_of_the_items() -> None:
    task_list = parse_task_list("Phase 3 — Empty\n1.1.5.1 Part\n1.1.5.A Check\n2.4 Lone item\n")
    known = ["1", "1.1", "1.1.5.1", "1.1.5.A", "2", "2.4", "3"]
    unknown = ["1.1.5", "4", "1.1.5.1.1", "1.2", "2.4.1", ""]
    assert [ref for ref in known + unknown if task_list.knows(ref)] == known


def test_a_dependency_is_open_while_an_atomic_task_under_it_is() -> None:
    # 1.1.1 is done, but 1.1.1.1.1 (whose parent 1.1.1.1 has no line) is under it and open
    text = "1.1 A\n1.1.1 a ✅\n1.1.2 b\n1.1.1.1.1 deep\n1.2 B (Dependencies: 1.1.1)\n1.2.1 c\n"
    selection = select_next(parse_task_list(text))
    assert [(b.task_id, b.waiting_for) for b in selection.blocked] == [
        ("1.1.2", ("1.1.1",)),
        ("1.1.1.1.1", ("1.1.2",)),
        ("1.2.1", ("1.1.1",)),
    ]
    selection = select_next(parse_task_list(text.replace("deep", "deep ✅")))
    assert selection.task is not None
    assert selection.task.id == "1.1.2"
    # groups whose last atomic task comes after the first open one: open or not by their tasks
    text = (
        "1.1 A\n#### 1.1.1 a\n- **Status**: blocked\n1.1.2 b ✅\n"
        "1.2 B\n1.2.1 c ✅\n1.3 C (Dependencies: 1.1, 1.2)\n1.3.1 d\n"
    )
    selection = select_next(parse_task_list(text))
    assert [(b.task_id, b.waiting_for) for b in selection.blocked] == [
        ("1.1.1", ()),
        ("1.3.1", ("1.1",)),
    ]
    selection = select_next(parse_task_list(text.replace("1.1, ", "")))
    assert selection.task is not None
    assert selection.task.id == "1.3.1"


def test_a_cycle_through_a_task_that_holds_deeper_items_is_reported() -> None:
    # 1.2 is a task (no 1.2.2 line makes it a group) yet holds 1.2.2.1; it follows 1.3, and
    # 1.3 waits for it: the previous parser took 1.2 at its deepest item and missed the cycle
    text = "1.2.2.1 part\n1.3 Ship (Dependencies: 1.2)\n1.2 Later\n"
    task_list = parse_task_list(text)
    assert get(task_list, "1.2").dependencies == ("1.3",)
    assert [(e.line, e.message) for e in task_list.errors] == [
        (3, "dependency cycle: 1.2 (line 3) → 1.3 (line 2) → 1.2 (line 3)")
    ]


def test_a_skipped_task_is_passed_over_and_its_dependants_wait_for_it() -> None:
    task_list = parse_task_list("1.1 A\n1.1.1 a\n1.1.2 b\n1.2 B\n1.2.1 c\n")
    selection = select_next(task_list, skipped={"1.1.1"})
    assert selection.task is not None
    assert selection.task.id == "1.2.1"
    waiting = select_next(task_list, skipped={"1.1.1", "1.2.1"})
    assert waiting.task is None
    assert [(b.task_id, b.reason) for b in waiting.blocked] == [
        ("1.1.2", "waiting for 1.1.1 (skipped)")
    ]
    assert select_next(parse_task_list("1.1 A\n1.1.1 a\n"), skipped={"1.1.1"}).blocked == ()
