"""Read a task list in any of the four styles (and their mixes) into a `TaskList`.

The parser is lenient: it walks the text once, line by line, keeping line numbers; lines it
does not understand are skipped, and lines that look like they were meant to say something
(a checkbox without an id, a field outside a task) become warnings. The structure (phases,
groups, composites, atomic tasks, checkpoints) comes from the ids, so the lines may be plain,
bulleted, headings with fields, or checkboxes, in any mix. Dependency validation (unknown
references, self-dependencies, cycles) goes into ``errors``; see `runner.tasks.build`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from runner.tasks.build import build_task_list
from runner.tasks.model import DEFAULT_CRITERIA, STATUSES, Issue, Record, TaskList
from runner.tasks.syntax import (
    CRITERION_LINE_RE,
    PLAIN_LINE_RE,
    Line,
    classify,
    holds,
    plain_item,
    requirement_of,
)
from runner.tasks.table import Nodes

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["parse_task_list", "read_status"]

_DIGITS = frozenset("0123456789")
_LIST_FIELDS = frozenset({"dependencies", "files", "criteria", "requirements"})
_TEXT_FIELDS = frozenset({"description", "type", "status", "title"})
_STATUS_ALIASES = {
    "done": "completed",
    "complete": "completed",
    "in progress": "in_progress",
    "in-progress": "in_progress",
    "todo": "pending",
    "to do": "pending",
    "canceled": "cancelled",
}


def read_status(value: str) -> str | None:
    """Read a ``**Status**:`` field's value (one of `STATUSES`); ``None`` when it is unknown."""
    status = value.lower().strip("*_ ").replace("✅", "").strip()
    status = _STATUS_ALIASES.get(status, status)
    return status if status in STATUSES else None


def parse_task_list(text: str, *, default_criteria: Mapping[str, str] | None = None) -> TaskList:
    """Parse a task list.

    Lines are split on ``\n`` (a ``\r`` before it is ignored), so line numbers are those an
    editor shows.

    Args:
        text: The whole file.
        default_criteria: The criteria of tasks that name none (default `DEFAULT_CRITERIA`).

    Returns:
        The tasks in document order with their groups and phases; odd lines are in
        ``warnings``, unknown references, self-dependencies and cycles in ``errors``.
    """
    return _parse(text, default_criteria)


def _has_markers(text: str) -> bool:
    """Whether the text holds a comment marker or a code fence (`holds`: a long list's text
    is searched for their rarest character)."""
    return (
        holds(text, "<!--", "!")
        or holds(text, "-->", ">")
        or holds(text, "```", "`")
        or holds(text, "~~~", "~")
    )


def _parse(text: str, default_criteria: Mapping[str, str] | None) -> TaskList:
    scanner = _Scanner()
    lines = text.split("\n")
    if "\r" in text:
        lines = [line.removesuffix("\r") for line in lines]
    if _has_markers(text):
        feed = scanner.feed
        for number, line in enumerate(lines, start=1):
            feed(number, line)
    else:
        scanner.feed_unmarked(lines)
    scanner.finish()
    criteria = DEFAULT_CRITERIA if default_criteria is None else default_criteria
    return build_task_list(
        scanner.items,
        scanner.phases,
        requirements=scanner.requirements,
        completed_phases=scanner.completed_phases,
        warnings=scanner.warnings,
        default_criteria=criteria,
    )


@attrs.define
class _Scanner:
    """The state of one pass over the lines.

    Item lines go to ``items`` (columns), phase lines to ``phases``; a field line belongs to
    the last of either.
    """

    items: Nodes = attrs.Factory(Nodes)
    phases: list[Record] = attrs.Factory(list)
    requirements: dict[str, list[str]] = attrs.Factory(dict)
    completed_phases: set[str] = attrs.Factory(set)
    warnings: list[Issue] = attrs.Factory(list)
    _in_comment: bool = False
    _comment_start: int = 0
    _comment_nodes: int = 0
    _comment_completed: bool = False
    _pending_comment: tuple[int, int] | None = None
    """(start line, end line) of a closed comment block holding tasks, awaiting COMPLETED."""
    _fence: str | None = None
    _field: tuple[str, int] | None = None
    """The list field (name, indent) that indented bullets currently extend."""

    def feed(self, number: int, line: str) -> None:
        """Take one line."""
        if (
            line[:1] in _DIGITS
            and self._fence is None
            and self._pending_comment is None
            and "<!--" not in line
            and "-->" not in line
            and (item := plain_item(line)) is not None
        ):  # the common case, a plain ``1.1.1 Text`` line: what `classify` would make of it
            self._field = None
            if self._in_comment:
                self._comment_nodes += 1
                self.items.add(Record("item", item[0], item[1], number, "plain", commented=True))
            else:
                self._append_plain(item[0], line, number)
            return
        stripped = line.strip()
        if not stripped:  # a blank line ends a field's bullets, and that is all it does
            if self._fence is None:
                self._field = None
            return
        if self._fence is not None or stripped.startswith(("```", "~~~")):
            self._track_fence(stripped)
            return
        commented, closed = self._in_comment, False
        if "<!--" in line or "-->" in line:
            line, commented, closed = self._track_comment(number, line)
        info = classify(line)
        if self._pending_comment is not None and stripped and info.kind != "phase_done":
            self._warn_uncompleted_comment()
        self._take(number, info, commented)
        if closed and self._comment_nodes and not self._comment_completed:
            self._pending_comment = (self._comment_start, number)

    def feed_unmarked(self, lines: list[str]) -> None:
        """Take every line of a text without comment markers and code fences.

        What `feed` does line by line, in short: without markers and fences no line is
        commented or fenced, so a plain ``1.1.1 Text`` line is an item, kept as three column
        entries (a line whose id has non-ASCII digits too: `feed` would read it into a record
        that says the same), and any other line is what `classify` says. A plain or blank
        line ends a field's bullets: the field is dropped before the next other line.
        """
        items = self.items
        add_id, add_raw, add_line = items.ids.append, items.raws.append, items.lines.append
        take, criterion = self._take, self._criterion
        plain, criterion_line = PLAIN_LINE_RE.match, CRITERION_LINE_RE.match
        taken = 0  # the last line taken by a handler
        for number, line in enumerate(lines, start=1):
            if (m := plain(line)) is not None:
                add_id(m[1])
                add_raw(line)
                add_line(number)
            elif line:
                if number != taken + 1:  # plain or blank lines came between: the field ends
                    self._field = None
                taken = number
                if (m := criterion_line(line)) is not None:  # what `classify` would say, sooner
                    criterion(number, m[1])
                else:
                    take(number, classify(line), False)

    def _take(self, number: int, info: Line, commented: bool) -> None:
        """Take a classified line."""
        if info.kind == "item":  # the common case, without the lookup
            self._add_node(number, info, commented, kind="item")
        else:
            getattr(self, f"_on_{info.kind}")(number, info, commented)

    def _append_plain(self, item_id: str, line: str, number: int) -> None:
        """Append a plain ``1.1.1 Text`` line outside comments (columns only, no record)."""
        items = self.items
        items.ids.append(item_id)
        items.raws.append(line)
        items.lines.append(number)

    def _last_is_phase(self) -> bool:
        """Whether the last item or phase line is a phase line."""
        items, phases = self.items, self.phases
        return bool(phases) and (not items.lines or phases[-1].line > items.lines[-1])

    def _last_node(self) -> Record | None:
        """The record of the last item or phase line (made for a plain item), if any."""
        if self._last_is_phase():
            return self.phases[-1]
        items = self.items
        return items.record(len(items.ids) - 1) if items.ids else None

    def finish(self) -> None:
        """Flush the state left at the end of the text."""
        if self._pending_comment is not None:
            self._warn_uncompleted_comment()
        if self._in_comment:
            self.warnings.append(Issue(self._comment_start, "comment block is never closed"))

    def _track_fence(self, stripped: str) -> None:
        if self._fence is None:
            self._fence = stripped[:3]
        elif stripped.startswith(self._fence):
            self._fence = None

    def _track_comment(self, number: int, line: str) -> tuple[str, bool, bool]:
        """Follow ``<!-- … -->``; return the line without the markers, commented, closed."""
        commented = self._in_comment or "<!--" in line
        if "<!--" in line and not self._in_comment:
            self._comment_start, self._comment_nodes = number, 0
            self._comment_completed = False
        opened = line.rfind("<!--")
        closed = line.rfind("-->")
        self._in_comment = opened > closed
        return line.replace("<!--", "").replace("-->", ""), commented, closed > opened

    def _warn_uncompleted_comment(self) -> None:
        assert self._pending_comment is not None  # only called when set
        start, end = self._pending_comment
        self._pending_comment = None
        self.warnings.append(
            Issue(
                start,
                f"tasks inside the comment block (lines {start}-{end}) are taken as completed, "
                "but no 'PHASE N COMPLETED' line follows it",
            )
        )

    def _on_other(self, number: int, info: Line, commented: bool) -> None:
        self._field = None

    def _on_phase_done(self, number: int, info: Line, commented: bool) -> None:
        self._pending_comment = None
        self._comment_completed = self._comment_completed or commented
        self.completed_phases.add(info.id)

    def _on_phase(self, number: int, info: Line, commented: bool) -> None:
        self._add_node(number, info, commented, kind="phase")

    def _on_item(self, number: int, info: Line, commented: bool) -> None:
        self._add_node(number, info, commented, kind="item")

    def _add_node(self, number: int, info: Line, commented: bool, *, kind: str) -> None:
        self._field = None
        if commented:
            self._comment_nodes += 1
        record = Record(
            kind, info.id, info.text, number, info.style, info.box, info.lead_done, commented
        )
        if kind == "phase":
            self.phases.append(record)
        else:
            self.items.add(record)

    def _on_field(self, number: int, info: Line, commented: bool) -> None:
        node = self._last_node()
        name = info.id
        if node is None:
            self.warnings.append(Issue(number, f"field '{name}' outside any task is ignored"))
            return
        if name in _TEXT_FIELDS:
            self._field = None
            value = info.text.strip().strip("`").strip()
            extra = node.with_extra()
            if name == "status":
                value = self._status(number, node.id, value)
                extra.status_line = number
            extra.fields[name] = value
        elif name in _LIST_FIELDS:
            self._field = (name, info.indent)
            extra = node.with_extra()
            extra.lists.setdefault(name, [])
            extra.list_lines.setdefault(name, number)
            if info.text.strip():
                extra.lists[name].append(info.text.strip())
        else:
            self._field = None
            self.warnings.append(Issue(number, f"unknown field '{name}' is ignored", node.id))

    def _status(self, number: int, task_id: str, value: str) -> str:
        status = read_status(value)
        if status is None:
            self.warnings.append(
                Issue(number, f"unknown status '{value}' is taken as pending", task_id)
            )
            return "pending"
        return status

    def _on_sub(self, number: int, info: Line, commented: bool) -> None:
        node = self._last_node() if self._field is not None else None
        if node is not None and self._field is not None and info.indent > self._field[1]:
            node.lists()[self._field[0]].append(info.text.strip())

    def _on_criterion(self, number: int, info: Line, commented: bool) -> None:
        self._criterion(number, info.text)

    def _criterion(self, number: int, text: str) -> None:
        """Take a criterion bullet with this text (after the ``criterion N:``)."""
        self._field = None
        if self._last_is_phase() or not self.items.ids:
            self.warnings.append(Issue(number, "criterion bullet outside any group is ignored"))
            return
        parts = self.items.ids[-1].split(".")
        group = ".".join(parts[:2])
        self.requirements.setdefault(group, []).append(requirement_of(text))

    def _on_orphan_box(self, number: int, info: Line, commented: bool) -> None:
        self._field = None
        self.warnings.append(
            Issue(number, f"checkbox item without a task id is ignored: {info.text[:60]}")
        )
