"""The one table of what a task list's lines say: line kinds, done marks, dependency forms.

The scanner (`runner.tasks.lines`), the build (`runner.tasks.build`), the marker and ``tasks
check`` all read a `Rules` value, so a new done mark or a new dependency form is one edit
here (or one `attrs.evolve` of `RULES`); nothing else tests for a mark or a clause.
"""

from __future__ import annotations

import re

import attrs

from runner.tasks.model import STATUSES

__all__ = ["RULES", "LineKind", "Rules"]

_ID = r"\d+(?:\.\d+)+(?:\.[A-Za-z])?"


@attrs.frozen
class LineKind:
    """One kind of line: its name and the pattern its text (indent removed) matches.

    ``{marks}`` in a pattern stands for the done marks. Named groups the scanner reads: ``id``,
    ``text``, ``key`` (a field's name), ``head``/``bullet``/``box`` (the style), ``lead`` (a
    leading done mark).
    """

    name: str
    pattern: str
    ignore_case: bool = False
    whole: bool = False
    """Whether the pattern must match the whole line (else its start)."""


@attrs.frozen
class Rules:
    """The table. Kinds are tried in order; the first that matches names the line."""

    line_kinds: tuple[LineKind, ...]
    done_marks: tuple[str, ...]
    """Marks that make an item done when they end its line or start its text; the first
    is the one the marker appends."""
    dependency_forms: tuple[str, ...]
    """Patterns of what opens an inline clause after ``(``: ``(Dependencies: 1.1)``."""
    text_fields: frozenset[str]
    """``- **Name**: value`` fields with one value (names in lower case)."""
    list_fields: frozenset[str]
    """Fields whose value may go on in indented bullets."""
    statuses: tuple[str, ...]
    """Every status a task can have; only ``completed`` is done."""
    status_aliases: tuple[tuple[str, str], ...]
    _line_re: re.Pattern[str] = attrs.field(init=False, eq=False, repr=False)
    _groups: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = attrs.field(
        init=False, eq=False, repr=False
    )
    _clause_re: re.Pattern[str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # One regex of every kind, in order: (?P<kind>…) around each pattern, whose own groups
        # are renamed kind__name; the first alternative that matches wins, as the table says.
        marks = "|".join(re.escape(mark) for mark in self.done_marks)
        alternatives, groups = [], {}  # groups: the names of each kind's own groups
        for kind in self.line_kinds:
            pattern = kind.pattern.replace("{marks}", marks)
            names = tuple(re.findall(r"\(\?P<(\w+)>", pattern))
            pattern = re.sub(r"\(\?P<(\w+)>", rf"(?P<{kind.name}__\1>", pattern)
            flags = "(?i:" if kind.ignore_case else "(?:"
            end = r"\Z" if kind.whole else ""
            alternatives.append(f"(?P<{kind.name}>{flags}{pattern}){end})")
            groups[kind.name] = names
        line_re = re.compile("|".join(alternatives))
        indexes = {  # a kind's own groups come one after the other
            kind: (names, tuple(line_re.groupindex[f"{kind}__{name}"] for name in names))
            for kind, names in groups.items()
        }
        clause = re.compile(r"\(\s*(?:" + "|".join(self.dependency_forms) + ")", re.IGNORECASE)
        object.__setattr__(self, "_line_re", line_re)  # frozen: derived once, here
        object.__setattr__(self, "_groups", indexes)
        object.__setattr__(self, "_clause_re", clause)

    def match_line(self, stripped: str) -> tuple[str, dict[str, str | None]] | None:
        """The first line kind that matches a line (without its indent), and its named groups."""
        m = self._line_re.match(stripped)
        if m is None or m.lastgroup is None:
            return None
        names, indexes = self._groups[m.lastgroup]
        values = m.groups()[indexes[0] - 1 : indexes[-1]] if indexes else ()
        return m.lastgroup, dict(zip(names, values, strict=True))

    def find_clause(self, text: str) -> re.Match[str] | None:
        """The opening of the first inline dependency clause in ``text`` (up to its content)."""
        return self._clause_re.search(text)

    def ends_done(self, text: str) -> bool:
        """Whether a done mark ends ``text`` (trailing whitespace aside)."""
        return text.rstrip().endswith(self.done_marks)

    def strip_done(self, text: str) -> tuple[str, bool]:
        """Remove the done marks that end ``text``; say whether there were any."""
        done = False
        text = text.rstrip()
        while text.endswith(self.done_marks):
            done = True
            mark = next(m for m in self.done_marks if text.endswith(m))
            text = text[: -len(mark)].rstrip()
        return text, done

    def read_status(self, value: str) -> str | None:
        """Read a ``**Status**:`` value (one of `statuses`); ``None`` when it is unknown."""
        status = value.lower().strip("*_ ")
        for mark in self.done_marks[:1]:  # "completed ✅" is completed
            status = status.replace(mark, "")
        status = status.strip()
        status = dict(self.status_aliases).get(status, status)
        return status if status in self.statuses else None


_BOX = r"(?:\[(?P<box>[ xX])\][ \t]*)?"
_HEAD = r"(?P<head>\#{1,6}[ \t]+)?"

RULES = Rules(
    line_kinds=(
        # "PHASE 2 COMPLETED": the phase is done (and a comment block before it is meant)
        LineKind(
            "phase_done",
            r"[#*\s-]*phase\s+(?P<id>\d+)\s+(?:is\s+)?(?:completed?|done)\W*",
            ignore_case=True,
            whole=True,
        ),
        # "- **Status**: pending", the field style's fields
        LineKind("field", r"[-*+][ \t]+\*\*(?P<key>[^*]+?)\*\*[ \t]*:?[ \t]*(?P<text>.*)"),
        # "1.1.1 Text", "- [x] 1.1.1 Text", "#### 1.1.1 Text", "✅ 1.1.A Text"; a line that
        # starts with a bare "Task 1.1.1" is no item (as the lists in the wild have it)
        LineKind(
            "item",
            r"(?!Task)"
            + _HEAD
            + r"(?:(?P<bullet>[-*+•])[ \t]+)?"
            + _BOX
            + r"(?P<lead>(?:{marks})[ \t]*)?(?:\*\*)?(?:Task[ \t]+)?(?P<id>"
            + _ID
            + r")\.?(?:\*\*)?(?:[ \t]*[:\u2014\u2013-]?[ \t]+|[ \t]*:|[ \t]*$)(?P<text>.*)",
        ),
        # "Phase 1 — Title (Dependencies: …)", also as a heading, bullet or checkbox
        LineKind(
            "phase",
            _HEAD + r"(?:(?P<bullet>[-*+])[ \t]+)?" + _BOX + r"(?:\*\*)?phase[ \t]+(?P<id>\d+)\b"
            r"(?:\*\*)?[ \t]*[:\u2014\u2013.-]?[ \t]*(?P<text>.*)",
            ignore_case=True,
        ),
        # "- <criterion 1: …>  [source: …](…)": a requirement of the group
        LineKind(
            "criterion", r"[-*+•][ \t]*<?[ \t]*criterion\b[^:]*:(?P<text>.*)", ignore_case=True
        ),
        LineKind("orphan_box", r"[-*+][ \t]+\[[ xX]\].*"),  # a checkbox without a task id
        LineKind("sub", r"[-*+•][ \t]+(?P<text>.*)"),  # an indented bullet goes on a list field
    ),
    done_marks=("✅", "✔️", "✔"),
    dependency_forms=(r"dependencies\s*:", r"depends on\s*:", r"deps\s*:"),
    text_fields=frozenset({"description", "type", "status", "title"}),
    list_fields=frozenset({"dependencies", "files", "criteria", "requirements"}),
    statuses=STATUSES,
    status_aliases=(
        ("done", "completed"),
        ("complete", "completed"),
        ("in progress", "in_progress"),
        ("in-progress", "in_progress"),
        ("todo", "pending"),
        ("to do", "pending"),
        ("canceled", "cancelled"),
    ),
)
"""The rules of the lists found in the wild (CONTRACT §3)."""
