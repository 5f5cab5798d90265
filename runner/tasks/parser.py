"""Read a task list in any of the four styles (and their mixes) into a `TaskList`.

The parser is lenient: it reads the text once, line by line, keeping line numbers; lines it
does not understand are skipped, and lines that look like they were meant to say something
(a checkbox without an id, a field outside a task) become warnings. The structure (phases,
groups, composites, atomic tasks, checkpoints) comes from the ids, so the lines may be plain,
bulleted, headings with fields, or checkboxes, in any mix. Unknown references,
self-dependencies and cycles go into ``errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.tasks.build import build_task_list
from runner.tasks.lines import scan
from runner.tasks.model import DEFAULT_CRITERIA, TaskList
from runner.tasks.rules import RULES, Rules

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["parse_task_list"]


def parse_task_list(
    text: str, *, default_criteria: Mapping[str, str] | None = None, rules: Rules = RULES
) -> TaskList:
    """Parse a task list.

    Lines are split on ``\\n`` (a ``\\r`` before it is ignored), so line numbers are those an
    editor shows.

    Args:
        text: The whole file.
        default_criteria: The criteria of tasks that name none (default `DEFAULT_CRITERIA`).
        rules: The line kinds, done marks and dependency forms (default `RULES`).

    Returns:
        The tasks in document order with their groups and phases; odd lines are in
        ``warnings``, unknown references, self-dependencies and cycles in ``errors``.
    """
    criteria = DEFAULT_CRITERIA if default_criteria is None else default_criteria
    return build_task_list(scan(text, rules), rules, criteria)
