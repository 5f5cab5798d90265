"""The scanned lines and the built tasks: records, and column stores (parallel lists).

A long list has one numbered line per task. Keeping those lines, and the tasks built from
them, as parallel lists (ids, lines, line numbers, types, statuses…) instead of one object
each makes a parse several times cheaper: an entry in a list costs a fraction of what an object
costs to make (and for the collector to walk). A `Record` object is made only for the lines
that need one: those with more than an id and a text (another style, fields, a comment block)
when they are scanned, and any other on first use (a task whose `Task` is made, say).
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Extra", "Nodes", "Record", "TaskTable"]


class Record:
    """One numbered line as the parser saw it, and what the build works out for a task.

    The line's raw pieces (``text``, ``style``, ``box``, the fields that followed it in
    ``extra``) and, for a task, its built ``type``, ``status`` and ``dependencies`` (set from
    the `TaskTable` when a task's record is asked for). The `Task` with the text fields is made
    from it. Only the lines that need one get a record (see `Nodes`); a plain slotted class,
    cheaper to make than an attrs one.
    """

    __slots__ = (
        "box",
        "commented",
        "dependencies",
        "extra",
        "id",
        "kind",
        "lead_done",
        "line",
        "prerequisites",
        "status",
        "style",
        "text",
        "type",
    )

    def __init__(
        self,
        kind: str,
        record_id: str,
        text: str,
        line: int,
        style: str,
        box: str | None = None,
        lead_done: bool = False,
        commented: bool = False,
    ) -> None:
        self.kind = kind
        """``phase`` or ``item``."""
        self.id = record_id
        self.text = text
        self.line = line
        self.style = style
        self.box = box
        self.lead_done = lead_done
        self.commented = commented
        self.extra: Extra | None = None
        """The fields that followed the line (``None`` when there are none, the common case)."""
        # type, status, dependencies and prerequisites are set by the build, for tasks only

    type: str
    status: str
    dependencies: tuple[str, ...]
    prerequisites: tuple[str, ...]

    @property
    def done(self) -> bool:
        """Whether the task is completed (once built)."""
        return self.status == "completed"

    def fields(self) -> dict[str, str]:
        """The text fields (``description``, ``type``, ``status``, ``title``) that followed."""
        return self.extra.fields if self.extra is not None else {}

    def lists(self) -> dict[str, list[str]]:
        """The list fields (``dependencies``, ``files``, ``criteria``…) that followed."""
        return self.extra.lists if self.extra is not None else {}

    def status_line(self) -> int | None:
        """The line of the ``**Status**:`` field, if any."""
        return self.extra.status_line if self.extra is not None else None

    def with_extra(self) -> Extra:
        """Return the fields holder, making it on first use."""
        if self.extra is None:
            self.extra = Extra()
        return self.extra


@attrs.define
class Extra:
    """The field lines that followed a numbered line (field style)."""

    fields: dict[str, str] = attrs.Factory(dict)
    lists: dict[str, list[str]] = attrs.Factory(dict)
    list_lines: dict[str, int] = attrs.Factory(dict)
    status_line: int | None = None


@attrs.define
class Nodes:
    """The numbered item lines (``1.1``, ``1.1.1``, ``1.1.A``…) in document order.

    Entry ``i`` of each list belongs to the ``i``-th item line (its position). Phase lines are
    kept apart, as records.
    """

    ids: list[str] = attrs.Factory(list)
    raws: list[str] = attrs.Factory(list)
    """A plain ``1.1.1 Text`` line as it is (its text is what follows its first space), the
    text of a line read into a record (`add`). Either way its parentheses, its colons and its
    end are the text's: what the build looks for (a clause, the done mark) reads the same."""
    lines: list[int] = attrs.Factory(list)
    records: dict[int, Record] = attrs.Factory(dict)
    """The records made so far, by position: from the scan, every line that is not a plain
    ``1.1.1 Text`` line outside comments (its style, box, marks or fields are in the record);
    the others on first use (`record`). A position without one is a plain line."""

    def add(self, record: Record) -> None:
        """Append a line read into a record (a line of another style, or a commented one)."""
        self.records[len(self.ids)] = record
        self.ids.append(record.id)
        self.raws.append(record.text)
        self.lines.append(record.line)

    def record(self, position: int, *, keep: bool = True) -> Record:
        """Return the record of the line at ``position``, making it for a plain line.

        A record made is kept for the next call unless ``keep`` is false (for a look that
        does not hold on to it: one record per line would cost a long list its speed).
        """
        found = self.records.get(position)
        if found is None:
            text = self.raws[position].partition(" ")[2]
            found = Record("item", self.ids[position], text, self.lines[position], "plain")
            if keep:
                self.records[position] = found
        return found


@attrs.define
class TaskTable:
    """The built tasks (every item but groups) in document order, one entry per task."""

    ids: list[str] = attrs.Factory(list)
    types: list[str] = attrs.Factory(list)
    statuses: list[str] = attrs.Factory(list)
    leads: list[str] = attrs.Factory(list)
    """Each task's first dependency when the build puts one before the rest (the previous
    sibling, a checkpoint's group), else ``""``; see `dependencies`."""
    parents: list[str] = attrs.Factory(list)
    """Each task's parent id (``1.1`` for ``1.1.1``)."""
    run_starts: list[int] = attrs.Factory(list)
    """Where the runs of tasks with one rest and one set of prerequisites start, in order (a
    run may be empty): a parent's tasks share theirs (the tuples they inherit), a task with a
    clause has its own. A task's are those of the last run started at or before it (`rest`,
    `prerequisites`)."""
    run_rests: list[tuple[str, ...]] = attrs.Factory(list)
    """Each run's rest: its tasks' other dependencies."""
    run_prerequisites: list[tuple[str, ...]] = attrs.Factory(list)

    def runs(self) -> Iterator[tuple[range, tuple[str, ...]]]:
        """The runs: their tasks' indexes and their rest."""
        if not self.run_starts:
            return
        ends = itertools.chain(itertools.islice(self.run_starts, 1, None), (len(self.ids),))
        for start, end, rest in zip(self.run_starts, ends, self.run_rests, strict=True):
            yield range(start, end), rest

    def _run(self, index: int) -> int:
        return bisect.bisect_right(self.run_starts, index) - 1

    def rest(self, index: int) -> tuple[str, ...]:
        """The ``index``-th task's dependencies other than its lead (maybe with it)."""
        return self.run_rests[self._run(index)]

    def prerequisites(self, index: int) -> tuple[str, ...]:
        """The ``index``-th task's prerequisite files."""
        return self.run_prerequisites[self._run(index)]

    def complete_composites(self) -> None:
        """Give each composite task the done state of its parts (done when all of them are)."""
        open_parts = {
            parent
            for kind, status, parent in zip(self.types, self.statuses, self.parents, strict=True)
            if kind == "atomic" and status != "completed" and status != "cancelled"
        }
        for container in list(open_parts):
            parts = container.split(".")
            open_parts.update(".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1))
        statuses = self.statuses
        for index, (task_id, kind) in enumerate(zip(self.ids, self.types, strict=True)):
            if kind == "composite" and task_id not in open_parts:
                statuses[index] = "completed"

    def dependencies(self, index: int) -> tuple[str, ...]:
        """The ``index``-th task's dependency ids: its lead, then the rest without it.

        Made on demand: a tuple per task would cost a long list's parse (and its collector)
        more than the few tasks whose dependencies are read.
        """
        lead, rest = self.leads[index], self.rest(index)
        if not lead:
            return rest
        if lead in rest:
            return (lead, *(ref for ref in rest if ref != lead))
        return (lead, *rest)
