"""What a failed run keeps of its stage's error (``failure_details``)."""

from __future__ import annotations

from runner.errors import CriteriaNotMetError, GitError, TaskListError, ToolError
from runner.pipeline import failure_details

LONG = "\n".join(f"out {i}" for i in range(50))


def test_verify_keeps_every_result_and_the_tail_of_each_output() -> None:
    results = {"a": {"passed": False}, "b": {"passed": True}}
    error = CriteriaNotMetError(
        "criteria not met: a", extra={"results": results, "artifacts": {"testOutput": LONG}}
    )
    assert failure_details(error) == {
        "results": results,
        "lastLines": {"testOutput": [f"out {i}" for i in range(30, 50)]},
    }


def test_implement_keeps_exit_status_and_last_lines() -> None:
    error = ToolError(
        "aider made no change (exit 0)",
        code="tool_no_change",
        extra={"exitStatus": 0, "artifacts": {"stdout": LONG, "stderr": ""}},
    )
    details = failure_details(error)
    assert details["exitStatus"] == 0
    assert details["lastLines"] == {"stdout": LONG.splitlines()[-20:]}  # empty stderr left out


def test_a_timeout_keeps_the_tail_of_its_top_level_outputs() -> None:
    error = ToolError("killed", code="tool_timeout", extra={"stdout": "a\nb", "stderr": "c"})
    assert failure_details(error) == {"lastLines": {"stdout": ["a", "b"], "stderr": ["c"]}}


def test_git_keeps_the_command_and_details_become_items() -> None:
    git = {"command": "git fetch", "exitStatus": 128, "stderr": "fatal: x"}
    assert failure_details(GitError("fetch failed", extra={"git": git})) == {"git": git}
    lines = TaskListError("bad list", details=[{"line": 3, "message": "unknown"}])
    assert failure_details(lines) == {"items": [{"line": 3, "message": "unknown"}]}
