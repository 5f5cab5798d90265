"""Read a task list line by line: what each line is, and which lines belong together.

One pass, one object per line: every line is classified by the rules' line kinds
(`classify`); item and phase lines become `Node` values that collect the field lines below
them. Code fences are skipped; lines inside ``<!-- … -->`` are read as done (a completed
phase kept for the record), and a block of tasks without a ``PHASE N COMPLETED`` line after
it is warned about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import attrs

from runner.tasks.model import Issue
from runner.tasks.rules import Rules
from runner.tasks.text import requirement_of

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Fields", "Line", "Node", "Scan", "classify", "scan"]


class Line(NamedTuple):
    """What one line is: a kind of `Rules.line_kinds` (or ``other``) and its parts.

    A named tuple: one is made per line, and a frozen attrs instance costs twice as much.
    """

    kind: str
    indent: int = 0
    id: str = ""
    """The item or phase id, or a field's name in lower case."""
    text: str = ""
    style: str = ""
    """``plain``, ``bullet``, ``field`` (a heading) or ``checkbox``."""
    box: str | None = None
    lead_done: bool = False


_OTHER = Line("other")


def classify(line: str, rules: Rules) -> Line:
    """Tell what a line (without its line ending) is."""
    stripped = line.lstrip()
    found = rules.match_line(stripped) if stripped else None
    if found is None:
        return _OTHER
    kind, groups = found
    indent = len(line) - len(stripped)
    if kind == "field":
        key = groups["key"] or ""
        return Line(kind, indent, key.strip().rstrip(":").strip().lower(), groups["text"] or "")
    if kind in ("item", "phase"):
        box = groups.get("box")
        style = _style(groups.get("head"), groups.get("bullet"), box)
        lead = groups.get("lead") is not None
        return Line(kind, indent, groups["id"] or "", groups["text"] or "", style, box, lead)
    text = groups.get("text", stripped)
    return Line(kind, indent, groups.get("id") or "", text or "")


def _style(head: str | None, bullet: str | None, box: str | None) -> str:
    if box is not None:
        return "checkbox"
    if head is not None:
        return "field"
    return "plain" if bullet is None else "bullet"


@attrs.define
class Fields:
    """The field lines below an item or phase line."""

    text: dict[str, str] = attrs.Factory(dict)
    """The text fields (``description``, ``type``, ``status``, ``title``)."""
    lists: dict[str, list[str]] = attrs.Factory(dict)
    """The list fields (``dependencies``, ``files``, ``criteria``, ``requirements``)."""
    lines: dict[str, int] = attrs.Factory(dict)
    """The line of each list field."""


_NO_FIELDS = Fields()


@attrs.define
class Node:
    """An item or phase line and the field lines that followed it."""

    line: Line
    number: int
    commented: bool
    status_line: int | None = None
    written: Fields | None = None
    """Made for the first field: most lines have none (and a long list's collector thanks)."""

    @property
    def id(self) -> str:
        """The item or phase id."""
        return self.line.id

    @property
    def fields(self) -> Mapping[str, str]:
        """The text fields."""
        return (self.written or _NO_FIELDS).text

    @property
    def lists(self) -> Mapping[str, list[str]]:
        """The list fields."""
        return (self.written or _NO_FIELDS).lists

    @property
    def list_lines(self) -> Mapping[str, int]:
        """The line of each list field."""
        return (self.written or _NO_FIELDS).lines

    def write(self) -> Fields:
        """The fields to add to, made on first use."""
        if self.written is None:
            self.written = Fields()
        return self.written


@attrs.frozen
class Scan:
    """What the pass found: item and phase lines in document order, group requirements."""

    items: list[Node]
    phases: list[Node]
    requirements: dict[str, list[str]]
    completed_phases: set[str]
    """The phases a ``PHASE N COMPLETED`` line marks."""
    warnings: list[Issue]


def scan(text: str, rules: Rules) -> Scan:
    """Read every line of ``text`` (split on ``\\n``; a ``\\r`` before it is ignored)."""
    scanner = _Scanner(rules, Scan([], [], {}, set(), []))
    for number, line in enumerate(text.split("\n"), start=1):
        scanner.feed(number, line.removesuffix("\r"))
    scanner.finish()
    return scanner.found


@attrs.define
class _Scanner:
    """The state of one pass: code fence, comment block, the node fields go to."""

    rules: Rules
    found: Scan
    last: Node | None = None
    """The last item or phase line: fields belong to it."""
    last_item: str | None = None
    fence: str | None = None
    field: tuple[str, int] | None = None
    """The list field (name, indent) that indented bullets extend."""
    in_comment: bool = False
    comment_start: int = 0
    comment_nodes: int = 0
    comment_completed: bool = False
    pending_comment: tuple[int, int] | None = None
    """(first, last line) of a closed comment block holding tasks, awaiting COMPLETED."""

    def feed(self, number: int, line: str) -> None:
        """Take one line."""
        stripped = line.strip()
        if not stripped:  # a blank line ends a field's bullets
            if self.fence is None:
                self.field = None
            return
        if self.fence is not None or stripped.startswith(("```", "~~~")):
            if self.fence is None:
                self.fence = stripped[:3]
            elif stripped.startswith(self.fence):
                self.fence = None
            return
        commented, closed = self.in_comment, False
        if "<!--" in line or "-->" in line:
            line, commented, closed = self._follow_comment(number, line)
        info = classify(line, self.rules)
        if self.pending_comment is not None and info.kind != "phase_done":
            self._warn_uncompleted_comment()
        self._take(number, info, commented)
        if closed and self.comment_nodes and not self.comment_completed:
            self.pending_comment = (self.comment_start, number)

    def finish(self) -> None:
        """Report what the end of the text leaves open."""
        if self.pending_comment is not None:
            self._warn_uncompleted_comment()
        if self.in_comment:
            self.found.warnings.append(Issue(self.comment_start, "comment block is never closed"))

    def _follow_comment(self, number: int, line: str) -> tuple[str, bool, bool]:
        """Follow ``<!-- … -->``; return the line without markers, commented, closed."""
        commented = self.in_comment or "<!--" in line
        if "<!--" in line and not self.in_comment:
            self.comment_start, self.comment_nodes, self.comment_completed = number, 0, False
        opened, closed = line.rfind("<!--"), line.rfind("-->")
        self.in_comment = opened > closed
        return line.replace("<!--", "").replace("-->", ""), commented, closed > opened

    def _warn_uncompleted_comment(self) -> None:
        assert self.pending_comment is not None  # only called when set
        start, end = self.pending_comment
        self.pending_comment = None
        self.found.warnings.append(
            Issue(
                start,
                f"tasks inside the comment block (lines {start}-{end}) are taken as completed, "
                "but no 'PHASE N COMPLETED' line follows it",
            )
        )

    def _take(self, number: int, info: Line, commented: bool) -> None:
        kind, found = info.kind, self.found
        if kind in ("item", "phase"):
            self.field = None
            self.comment_nodes += commented
            self.last = Node(info, number, commented)
            if kind == "item":
                found.items.append(self.last)
                self.last_item = info.id
            else:
                found.phases.append(self.last)
        elif kind == "field":
            self._field(number, info)
        elif kind == "sub":
            if self.field is not None and self.last is not None and info.indent > self.field[1]:
                self.last.write().lists[self.field[0]].append(info.text.strip())
        elif kind == "phase_done":
            self.pending_comment = None
            self.comment_completed = self.comment_completed or commented
            found.completed_phases.add(info.id)
        else:
            self.field = None
            if kind == "criterion":
                self._criterion(number, info.text)
            elif kind == "orphan_box":
                message = f"checkbox item without a task id is ignored: {info.text[:60]}"
                found.warnings.append(Issue(number, message))

    def _criterion(self, number: int, text: str) -> None:
        """A criterion bullet belongs to the group of the last item line."""
        if self.last is None or self.last.line.kind == "phase":
            message = "criterion bullet outside any group is ignored"
            self.found.warnings.append(Issue(number, message))
            return
        assert self.last_item is not None  # the last node is an item
        group = ".".join(self.last_item.split(".")[:2])
        self.found.requirements.setdefault(group, []).append(requirement_of(text))

    def _field(self, number: int, info: Line) -> None:
        node, name, warnings = self.last, info.id, self.found.warnings
        self.field = None
        if node is None:
            warnings.append(Issue(number, f"field '{name}' outside any task is ignored"))
        elif name in self.rules.text_fields:
            value = info.text.strip().strip("`").strip()
            if name == "status":
                status = self.rules.read_status(value)
                if status is None:
                    message = f"unknown status '{value}' is taken as pending"
                    warnings.append(Issue(number, message, node.id))
                value, node.status_line = status or "pending", number
            node.write().text[name] = value
        elif name in self.rules.list_fields:
            self.field = (name, info.indent)
            written = node.write()
            written.lists.setdefault(name, [])
            written.lines.setdefault(name, number)
            if info.text.strip():
                written.lists[name].append(info.text.strip())
        else:
            warnings.append(Issue(number, f"unknown field '{name}' is ignored", node.id))
