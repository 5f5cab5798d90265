"""The repair loop's evidence: what the last attempt got wrong, told to the tool plainly.

An unmet VERIFY (422 with every criterion's result) or an IMPLEMENT that changed nothing is
not the end of a task: the autopilot runs the tool again on the same branch with a prompt
built here from the evidence (the unmet criteria with actual vs required, the new failing
tests with their messages, the type errors with file:line, the touched files left uncovered
and the lines they miss, the tool's own last output), up to ``maxAttempts`` per task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from runner.errors import CriteriaNotMetError, ToolError
from runner.wire import OMIT_NONE

if TYPE_CHECKING:
    from runner.errors import RunnerError

__all__ = ["DEFAULT_MAX_ATTEMPTS", "Attempt", "diff_digest", "is_repairable", "repair_prompt"]

DEFAULT_MAX_ATTEMPTS = 3
_LISTED = 10
_OUTPUT_LINES = 20


@attrs.frozen
class Attempt:
    """One failed attempt at a task: its number, where it failed, and the evidence."""

    attempt: int
    stage: str
    code: str
    message: str
    results: Mapping[str, Any] | None = attrs.field(default=None, metadata=OMIT_NONE)


def is_repairable(stage: str, exc: RunnerError) -> bool:
    """Whether another attempt with the evidence may fix it (unmet VERIFY, no change)."""
    if stage == "verify":
        return isinstance(exc, CriteriaNotMetError)
    return stage == "implement" and isinstance(exc, ToolError) and exc.code == "tool_no_change"


def diff_digest(diff: str) -> str:
    """A short digest of a branch's diff, to tell an attempt that repeats the previous one."""
    return hashlib.sha256(diff.encode("utf-8", errors="replace")).hexdigest()[:16]


def _criterion_lines(name: str, result: Mapping[str, Any]) -> list[str]:
    actual, required = result.get("actual", "failed"), result.get("required")
    lines = [f"- {name}: {actual}" + (f" (required: {required})" if required else "")]
    details = result.get("details") or {}
    for test in [t for t in details.get("tests", []) if t.get("status") == "new"][:_LISTED]:
        message = f": {test['message']}" if test.get("message") else ""
        lines.append(f"  - failing test {test['id']}{message}")
    for row in details.get("files", [])[:_LISTED]:
        if row.get("coveredLines") == row.get("totalLines"):
            continue
        missing = row.get("missingLines")
        where = f", lines not run: {_ranges(missing)}" if missing else ""
        note = " (no test imports it)" if row.get("note") else ""
        lines.append(
            f"  - {row['path']}: {row['coveredLines']}/{row['totalLines']} lines covered"
            f"{note}{where}"
        )
    lines += [f"  - {line}" for line in details.get("firstErrors", [])[:_LISTED]]
    if stopped := details.get("stoppedEarly"):
        lines.append(f"  - note: {stopped}")
    return lines


def _ranges(lines: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3, 7``."""
    spans: list[str] = []
    start = prev = None
    for line in sorted(lines):
        if prev is not None and line == prev + 1:
            prev = line
            continue
        if start is not None:
            spans.append(f"{start}-{prev}" if start != prev else f"{start}")
        start = prev = line
    if start is not None:
        spans.append(f"{start}-{prev}" if start != prev else f"{start}")
    return ", ".join(spans[:_LISTED]) + (" ..." if len(spans) > _LISTED else "")


def repair_prompt(exc: RunnerError, attempt: int, max_attempts: int) -> str:
    """Tell the tool what the previous attempt got wrong and what must hold now."""
    head = f"Attempt {attempt} of {max_attempts}. The previous attempt did not pass:"
    if isinstance(exc, CriteriaNotMetError):
        results: Mapping[str, Any] = exc.extra.get("results", {})
        lines = [head, "The quality gates found (fix these, keep what already passes):"]
        for name, result in results.items():
            if not result.get("passed", True):
                lines += _criterion_lines(name, result)
        lines.append(
            "Add or fix tests for new code, keep types strict, and do not weaken or delete "
            "existing tests to make them pass."
        )
        return "\n".join(lines)
    artifacts = exc.extra.get("artifacts", {})
    output = "\n".join(
        str(artifacts.get(stream, "")).rstrip() for stream in ("stdout", "stderr")
    ).strip()
    tail = output.splitlines()[-_OUTPUT_LINES:]
    lines = [head, f"- {exc.message}: the files are unchanged. Edit the files to do the task."]
    if tail:
        lines += ["Your last output was:", *(f"  {line}" for line in tail)]
    return "\n".join(lines)
