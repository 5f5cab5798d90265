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
from runner.tasks import Blocked, Task, TaskList, parse_task_list
from runner.tools import JobSlots
from runner.verify import CriterionResult
from runner.wire import OMIT_EMPTY

if TYPE_CHECKING:
    from pathlib import Path


__all__ = [
    "CompleteResult",
    "ImplementArtifacts",
    "ImplementRequest",
    "ImplementResult",
    "LogSink",
    "PrepArtifacts",
    "PrepRequest",
    "PrepResult",
    "SelectResult",
    "StageContext",
    "Stages",
    "StepSink",
    "TaskListMemo",
    "VerifyRequest",
    "VerifyResult",
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
    _source: tuple[str, str] | None = None

    def parse(
        self,
        text: str,
        default_criteria: Mapping[str, str] | None,
        source: tuple[str, str] | None = None,
    ) -> TaskList:
        """Return ``parse_task_list(text, default_criteria=...)``, reusing the last result.

        ``source`` (a commit sha and the list's path in it) is remembered with the result,
        for :meth:`at`.
        """
        key = (text, default_criteria)
        if self._parsed is None or self._key != key:
            self._parsed = parse_task_list(text, default_criteria=default_criteria)
            self._key = key
        self._source = source
        return self._parsed

    def at(
        self, source: tuple[str, str], default_criteria: Mapping[str, str] | None
    ) -> TaskList | None:
        """The list parsed last if it was read from ``source`` (a commit's file never
        changes) with these defaults; else None."""
        if self._key is None or self._source != source or self._key[1] != default_criteria:
            return None
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


@attrs.frozen
class PrepRequest:
    """``POST /prep``.

    ``synced`` (the autopilot's, never the API's): the SELECT just before brought the base up
    to date in this workspace, so PREP does not fetch again.
    """

    task_id: str
    force: bool = False
    synced: bool = False


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


# -- results: what each stage returns (camelCased by runner.wire where they leave) ---------


@attrs.frozen
class PrepArtifacts:
    """What PREP did."""

    cloned: bool
    branch_created: bool
    branch_synced: str
    """What PREP did to an existing task branch, comma-separated (see ``PrepArtifacts``)."""
    working_directory: str


@attrs.frozen
class PrepResult:
    """PREP: the task branch ready in the customer's workspace (``POST /prep``)."""

    task_id: str
    branch: str
    repo_path: str
    artifacts: PrepArtifacts
    success: bool = True


@attrs.frozen
class ImplementArtifacts:
    """What the tool changed, and what it printed."""

    diff: str
    stdout: str
    stderr: str
    files_modified: tuple[str, ...]
    lines_changed: int
    out_of_scope: tuple[str, ...]
    commit: str
    tokens: Mapping[str, int] | None = None
    cost: float | None = None


@attrs.frozen
class ImplementResult:
    """IMPLEMENT: the tool's change committed on the task branch (``POST /implement``)."""

    task_id: str
    tool: str
    artifacts: ImplementArtifacts
    attempt: int
    prompt: str
    """The prompt the tool was given."""
    duration: float
    tool_duration: float
    success: bool = True


@attrs.frozen
class VerifyResult:
    """VERIFY: every criterion met (``POST /verify``; an unmet one is a 422 instead)."""

    task_id: str
    results: Mapping[str, CriterionResult]
    artifacts: Mapping[str, str]
    notes: tuple[str, ...] = attrs.field(default=(), metadata=OMIT_EMPTY)
    success: bool = True


@attrs.frozen
class SelectResult:
    """SELECT: the next task (or none) with the list's counts (``GET /tasks/next``)."""

    task: Task | None
    total_tasks: int
    completed_tasks: int
    blocked: tuple[Blocked, ...] = attrs.field(default=(), metadata=OMIT_EMPTY)
    """Why every remaining task waits, when none can run."""
    dependencies_satisfied: bool = attrs.field(init=False)
    progress: float = attrs.field(init=False)
    """Completed over total, in percent with one decimal."""

    @dependencies_satisfied.default
    def _task_found(self) -> bool:
        return self.task is not None

    @progress.default
    def _progress(self) -> float:
        if not self.total_tasks:
            return 100.0
        return round(100.0 * self.completed_tasks / self.total_tasks, 1)


@attrs.frozen
class CompleteResult:
    """COMPLETE: the task marked done and merged."""

    task_id: str
    merge_commit: str
    pushed: bool
    group_completed: str | None = None
    success: bool = True


class Stages(Protocol):
    """The pipeline's stages, injected into actors (tests pass fakes)."""

    async def select(
        self, ctx: StageContext, *, exclude_completed: bool = True
    ) -> SelectResult: ...

    async def prep(self, ctx: StageContext, request: PrepRequest) -> PrepResult: ...

    async def implement(self, ctx: StageContext, request: ImplementRequest) -> ImplementResult: ...

    async def verify(self, ctx: StageContext, request: VerifyRequest) -> VerifyResult: ...

    async def complete(self, ctx: StageContext, task_id: str, branch: str) -> CompleteResult: ...

    async def reset(self, ctx: StageContext) -> None:
        """Leave the workspace clean after a cancelled stage."""

    async def cleanup(self, settings: Settings, in_use: Collection[Path]) -> list[Path]:
        """Remove idle workspaces, never one in ``in_use``."""
