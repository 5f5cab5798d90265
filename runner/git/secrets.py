"""Find secrets in a staged diff before the runner commits it (``secret_in_diff``).

What counts as a secret is the redactor's rule (:meth:`runner.redact.Redactor.leaks`); this
module only walks the added lines of a ``git diff --cached -U0`` and names file and line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["secret_lines"]

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def _path(header: str) -> str:
    """The path of a ``+++ b/<path>`` line (git quotes unusual names: keep them quoted)."""
    name = header[4:]
    return name[2:] if name.startswith("b/") else name


def secret_lines(diff: str, leaks: Callable[[str], bool]) -> list[tuple[str, int]]:
    """Return ``(file, line)`` of every added line of ``diff`` for which ``leaks`` is true.

    ``diff`` is ``git diff --cached -U0 --no-color`` output; line numbers are in the new file.
    """
    found: list[tuple[str, int]] = []
    path, number, in_hunk = "", 0, False
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            in_hunk = False
        elif not in_hunk and line.startswith("+++ "):  # in a hunk, "+++" is an added "++"
            path = _path(line)
        elif line.startswith("@@"):
            in_hunk = True
            match = _HUNK.match(line)
            number = int(match.group(1)) if match else 0
        elif in_hunk and line.startswith("+"):
            if leaks(line[1:]):
                found.append((path, number))
            number += 1
    return found
