"""Failures that explain themselves: the first error lines, the tail, the command, the exit.

A tool's last lines are often its usage text or a stack of "see the log" hints; the cause is
near the top (npm's ``npm error`` lines, pytest's collection errors, tsc's first
diagnostics). :func:`failure` builds the ``verify_failed`` error from both ends.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from runner.errors import VerifyError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["combined", "failure", "first_errors", "tail_lines"]

_ERROR_LINE = re.compile(
    r"^\s*(?:npm (?:error|ERR!)|E {2,}\S|ERROR\b|FAILED\b|error\b|Error\b|Traceback\b"
    r"|\S*(?:Error|Exception)\b:|.*\berror TS\d+:|.*:\d+(?::\d+)?: error:|●"
    r"|\S+:\d+:\d+: [A-Z]+\d+ |\d+:\d+\s+error\s)",  # ruff, eslint
)
_NOISE = re.compile(r"^npm (?:error|ERR!) (?:A complete log|Log files were not written|\s*$)")
_FIRST_LINES = 8
_TAIL_LINES = 15


def combined(stdout: str, stderr: str) -> str:
    """Join a process's two streams (stdout first) into one text."""
    if stdout and stderr:
        return stdout.rstrip("\n") + "\n" + stderr
    return stdout or stderr


def first_errors(text: str, limit: int = _FIRST_LINES) -> list[str]:
    """Return the first ``limit`` lines that look like an error, in order, deduplicated."""
    found: list[str] = []
    for line in text.splitlines():
        stripped = line.rstrip()
        if _ERROR_LINE.match(stripped) and not _NOISE.match(stripped) and stripped not in found:
            found.append(stripped)
            if len(found) == limit:
                break
    return found


def tail_lines(text: str, limit: int = _TAIL_LINES) -> list[str]:
    """Return the last ``limit`` non-empty lines."""
    return [line.rstrip() for line in text.splitlines() if line.strip()][-limit:]


def failure(
    what: str, args: Sequence[str], returncode: int, output: str, *, artifact: str
) -> VerifyError:
    """Build ``verify_failed`` for a command that could not do its job.

    The message starts with the first error lines (else the last lines); the details carry
    the command, its exit status, the first error lines, the tail and the artifact's name.
    """
    errors = first_errors(output)
    tail = tail_lines(output)
    evidence = errors or tail[-5:] or ["(no output)"]
    message = f"{what} failed (exit {returncode}): " + " | ".join(evidence)
    details = {
        "command": shlex.join(args),
        "exitCode": returncode,
        "firstErrors": errors,
        "tail": tail,
        "artifact": artifact,
    }
    return VerifyError(message, code="verify_failed", details=[details])
