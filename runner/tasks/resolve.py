"""Resolve dependency clauses against a list's ids: ranges, unknown references, self-references.

Each owner's clause (a phase's, a group's, a composite's or a task's) is resolved once, and
the references the tasks of one parent inherit from its containers are gathered once.
Problems go into the build's ``warnings`` and ``errors``, with the clause's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from runner.tasks.deps import RangeIndex, related
from runner.tasks.fields import NodeState
from runner.tasks.model import Issue
from runner.tasks.table import Record

if TYPE_CHECKING:
    from runner.tasks.deps import Clause

__all__ = ["Refs", "Resolver"]

Refs = tuple[tuple[str, ...], tuple[str, ...]]
"""Resolved references: (dependency ids, prerequisite files)."""


def _parent(task_id: str) -> str:
    return task_id.rpartition(".")[0]


@attrs.define
class Resolver:
    """Resolves the clauses of one list (the state of a `runner.tasks.build` run)."""

    first: Mapping[str, int]
    """The item ids (with the position of their first line)."""
    lineage: Mapping[str, tuple[str, ...]]
    """Every container of an item, with its containers."""
    phases: Mapping[str, Record]
    states: Mapping[str, NodeState]
    """The states with a clause: phases (by ``Phase N``), items (by id)."""
    warnings: list[Issue]
    errors: list[Issue]
    _resolved: dict[str, Refs] = attrs.Factory(dict)
    _inherited: dict[str, Refs] = attrs.Factory(dict)
    _ranges: RangeIndex | None = None

    def knows(self, ref: str) -> bool:
        """Whether ``ref`` is an item id, a container of one, or a phase id."""
        return ref in self.first or ref in self.lineage or ref in self.phases

    def _range_index(self) -> RangeIndex:
        """The range index over the known ids, built on the first range met."""
        if self._ranges is None:
            self._ranges = RangeIndex.of({*self.first, *self.lineage, *self.phases})
        return self._ranges

    def resolve(self, owner: str, line: int, clause: Clause | None) -> Refs:
        """Resolve an owner's clause once: (dependency ids, prerequisite files)."""
        found = self._resolved.get(owner)
        if found is not None:
            return found
        if clause is not None and len(clause.refs) == 1 and not clause.unparsed:
            start, end = clause.refs[0]  # the common clause: one known reference, not related
            if (
                end is None
                and self.knows(start)
                and not related(owner.removeprefix("Phase "), start)
            ):
                found = self._resolved[owner] = ((start,), clause.prerequisites)
                return found
        refs: list[str] = []
        if clause is not None:
            for item in clause.unparsed:
                self.warnings.append(
                    Issue(line, f"dependency '{item}' of {owner} is not a task reference", owner)
                )
            for start, end in clause.refs:
                refs.extend(self._expand(owner, line, start, end))
            self._check_self(owner, line, refs)
        result = (tuple(dict.fromkeys(refs)), clause.prerequisites if clause else ())
        self._resolved[owner] = result
        return result

    def _expand(self, owner: str, line: int, start: str, end: str | None) -> list[str]:
        if end is None:
            if self.knows(start):
                return [start]
            self.errors.append(Issue(line, f"{owner} depends on unknown {start}", owner))
            return [start]
        expanded = self._range_index().expand(start, end)
        if not self.knows(start) or not self.knows(end) or not expanded:
            self.errors.append(
                Issue(line, f"{owner} depends on unknown range {start}\N{EN DASH}{end}", owner)
            )
            return [r for r in (start, end) if self.knows(r)]
        return expanded

    def _check_self(self, owner: str, line: int, refs: list[str]) -> None:
        bare = owner.removeprefix("Phase ")
        for ref in refs:
            if ref == bare:
                message = f"{owner} depends on itself"
            elif bare.startswith(ref + "."):
                message = f"{owner} depends on {ref}, which contains it"
            elif ref.startswith(bare + "."):
                message = f"{owner} depends on its own part {ref}"
            else:
                continue
            self.errors.append(Issue(line, message, bare))

    def owner_refs(self, owner_id: str) -> Refs:
        """The resolved clause of a container (phase, group, composite), if it has a line."""
        key = owner_id if "." in owner_id else f"Phase {owner_id}"
        state = self.states.get(key)
        if state is None:  # no line, or a line without a clause
            return (), ()
        return self.resolve(key, state.clause_line, state.clause)

    def task_refs(self, task_id: str, state: NodeState) -> Refs:
        """The refs of a task with its own clause, then its containers' clauses."""
        own, prereqs = self.resolve(task_id, state.clause_line, state.clause)
        refs, more = self.inherited_refs(_parent(task_id))
        if not own and not prereqs:
            return refs, more
        return tuple(dict.fromkeys((*own, *refs))), tuple(dict.fromkeys((*prereqs, *more)))

    def inherited_refs(self, parent: str) -> Refs:
        """The clauses of a parent and all its containers, nearest first (cached per parent)."""
        cached = self._inherited.get(parent)
        if cached is None:
            deps, files = self.owner_refs(parent)  # without repeats, as the others
            if "." in parent:
                up, more = self.inherited_refs(_parent(parent))
                if up:
                    deps = tuple(dict.fromkeys((*deps, *up))) if deps else up
                if more:
                    files = tuple(dict.fromkeys((*files, *more))) if files else more
            cached = self._inherited[parent] = (deps, files)
        return cached
