"""Where every task stands (the dashboard's task tree): done, next, ready, blocked, skipped."""

from __future__ import annotations

from runner.tasks import parse_task_list, select_next, standings

LIST = """\
Phase 1 — One
1.1 A
1.1.1 One. ✅
1.1.2 Two.
1.1.3 Three.
1.1.A Validate outputs of Task 1.1
1.2 B (Dependencies: 1.1)
1.2.1 Four.
1.3 C
1.3.1 Five.
"""


def _states(text: str, skipped: tuple[str, ...] = ()) -> dict[str, tuple[str, str | None]]:
    found = standings(parse_task_list(text), skipped=skipped)
    return {task_id: (s.state, s.reason) for task_id, s in found.items()}


def test_standings_name_next_ready_and_blocked_with_selects_reason() -> None:
    assert _states(LIST) == {
        "1.1.1": ("done", None),
        "1.1.2": ("next", None),
        "1.1.3": ("blocked", "waiting for 1.1.2"),
        "1.1.A": ("open", None),
        "1.2.1": ("blocked", "waiting for 1.1"),
        "1.3.1": ("ready", None),
    }


def test_standings_next_is_what_select_chooses() -> None:
    task_list = parse_task_list(LIST)
    chosen = select_next(task_list).task
    assert chosen is not None
    assert [k for k, s in standings(task_list).items() if s.state == "next"] == [chosen.id]


def test_standings_skipped_task_and_its_waiting_dependant() -> None:
    states = _states(LIST, skipped=("1.1.2",))
    assert states["1.1.2"] == ("skipped", "skipped by a person")
    assert states["1.1.3"] == ("blocked", "waiting for 1.1.2 (skipped)")
    assert states["1.3.1"] == ("next", None)


def test_standings_blocked_status_and_cancelled() -> None:
    text = """\
#### 1.1.1 One
- **Status**: blocked
#### 1.1.2 Two
- **Status**: cancelled
- **Dependencies**: none
"""
    states = _states(text)
    assert states["1.1.1"] == ("blocked", "the task's status is blocked")
    assert states["1.1.2"] == ("cancelled", None)
