"""What every stage shares: the context it runs in, its requests and the Stages protocol."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from runner.config import Settings
from runner.metrics import Metrics
from runner.redact import Redactor
from runner.store import CustomerRecord, StepRecord, Store
from runner.tasks import TaskList, parse_task_list
from runner.tools import JobSlots

if TYPE_CHECKING:
    from pathlib import Path


__all__ = [
    "CompleteResult",
    "ImplementRequest",
    "LogSink",
    "PrepRequest",
    "SelectResult",
    "StageContext",
    "StageResult",
    "Stages",
    "StepSink",
    "TaskListMemo",
    "VerifyRequest",
]

LogSink = Callable[[str, str], None]
"""``log(level, message)``: report a stage log line (redacted and batched by the actor)."""
StepSink = Callable[[StepRecord], None]
"""Takes a stage's result record to store with the state change that ends the stage."""


@attrs.define(eq=False)
class TaskListMemo:
    """A customer's last parsed task list, parsed again only when its text or defaults change.

    Every stage reads the list; between two tasks it rarely changes. One memo per customer,
    used by one stage at a time (the actor runs them one after another).
    """

    _key: tuple[str, Any] | None = None
    _parsed: TaskList | None = None

    def parse(self, text: str, default_criteria: Mapping[str, str] | None) -> TaskList:
        """Return ``parse_task_list(text, default_criteria=...)``, reusing the last result."""
        key = (text, default_criteria)
        if self._parsed is None or self._key != key:
            self._parsed = parse_task_list(text, default_criteria=default_criteria)
            self._key = key
        return self._parsed

    @property
    def last(self) -> TaskList | None:
        """The list parsed last (``None`` before the first parse)."""
        return self._parsed


@attrs.frozen
class StageContext:
    """Everything a stage needs; built by the actor for each stage."""

    settings: Settings
    customer: CustomerRecord
    store: Store
    slots: JobSlots
    redactor: Redactor
    log: LogSink
    now: Callable[[], datetime]
    keep_step: StepSink | None = None
    """Where a stage's result record goes; None: written to the store at once."""
    task_lists: TaskListMemo = attrs.Factory(TaskListMemo)
    """The customer's memo of its parsed task list (the actor keeps one per customer)."""
    metrics: Metrics | None = None
    """Where tool and gate process times are observed."""


class StageResult(Protocol):
    """A stage's outcome; ``to_wire()`` is the spec's response body."""

    def to_wire(self) -> dict[str, Any]: ...


@attrs.frozen
class PrepRequest:
    """``POST /prep``."""

    task_id: str
    force: bool = False


@attrs.frozen
class ImplementRequest:
    """``POST /implement``; the optional fields override the task list's.

    ``repair`` (the autopilot's repair loop) is what the previous attempt got wrong; it is
    added to the prompt, and ``attempt`` numbers the commit.
    """

    task_id: str
    branch: str | None = None
    tool: str | None = None
    description: str | None = None
    files: tuple[str, ...] | None = None
    requirements: tuple[str, ...] | None = None
    force: bool = False
    repair: str | None = None
    attempt: int = 1


@attrs.frozen
class VerifyRequest:
    """``POST /verify``; ``criteria`` overrides the task's."""

    task_id: str
    branch: str | None = None
    criteria: Mapping[str, str] | None = None
    force: bool = False


@attrs.frozen
class SelectResult:
    """SELECT: the next task (or none) with the list's counts."""

    task: Mapping[str, Any] | None
    total: int
    completed: int
    blocked: tuple[Mapping[str, Any], ...] = ()

    @property
    def progress(self) -> float:
        """Completed over total, in percent with one decimal."""
        return round(100.0 * self.completed / self.total, 1) if self.total else 100.0

    def to_wire(self) -> dict[str, Any]:
        """Return the spec's ``GET /tasks/next`` body."""
        body: dict[str, Any] = {
            "task": dict(self.task) if self.task is not None else None,
            "dependenciesSatisfied": self.task is not None,
            "totalTasks": self.total,
            "completedTasks": self.completed,
            "progress": self.progress,
        }
        if self.blocked:
            body["blocked"] = [dict(b) for b in self.blocked]
        return body


@attrs.frozen
class CompleteResult:
    """COMPLETE: the task marked done and merged."""

    task_id: str
    merge_commit: str
    pushed: bool
    group_completed: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """Return a JSON body describing the completion."""
        return {
            "success": True,
            "taskId": self.task_id,
            "mergeCommit": self.merge_commit,
            "pushed": self.pushed,
            "groupCompleted": self.group_completed,
        }


class Stages(Protocol):
    """The pipeline's stages, injected into actors (tests pass fakes)."""

    async def select(
        self, ctx: StageContext, *, exclude_completed: bool = True
    ) -> SelectResult: ...

    async def prep(self, ctx: StageContext, request: PrepRequest) -> StageResult: ...

    async def implement(self, ctx: StageContext, request: ImplementRequest) -> StageResult: ...

    async def verify(self, ctx: StageContext, request: VerifyRequest) -> StageResult: ...

    async def complete(self, ctx: StageContext, task_id: str, branch: str) -> CompleteResult: ...

    async def reset(self, ctx: StageContext) -> None:
        """Leave the workspace clean after a cancelled stage."""

    async def cleanup(self, settings: Settings, in_use: Collection[Path]) -> list[Path]:
        """Remove idle workspaces, never one in ``in_use``."""
