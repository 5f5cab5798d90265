"""The autopilot's hooks into the actor: state changes, stage records, stage metrics.

:func:`runner.pipeline.drive` calls them between stages; each stage that ends (ok, failed,
stopped) is observed in ``devteam_stage_duration_seconds`` and appended to its run's record.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

from runner.actors.journal import Journal
from runner.actors.state import STAGE_STATUS
from runner.store import StageRecord

__all__ = ["RunHooks"]


@attrs.frozen
class _OpenStage:
    stage: str
    task_id: str | None
    started: float
    started_at: str


@attrs.define
class RunHooks:
    """The actor's :class:`runner.pipeline.RunHooks`; records each stage in the run."""

    journal: Journal
    _open: _OpenStage | None = None

    async def stage_started(self, stage: str, task_id: str | None, branch: str | None) -> None:
        state = self.journal.state
        if task_id is not None:
            state.current_task = task_id
        if branch is not None:
            state.branch = branch
        now = self.journal.now()
        self._open = _OpenStage(stage, task_id, trio.current_time(), now)
        self.journal.log("info", f"{stage} started" + (f" for task {task_id}" if task_id else ""))
        status = STAGE_STATUS[stage]
        if status != state.status:  # a run's start or resume already announced it
            await self.journal.change(status)

    async def stage_finished(self, outcome: str, result: dict[str, Any]) -> None:
        """Observe the open stage's duration and append it to the run's record."""
        opened, self._open = self._open, None
        run_id = self.journal.state.run_id
        if opened is None or run_id is None:
            return
        seconds = trio.current_time() - opened.started
        deps = self.journal.deps
        deps.metrics.observe_stage(opened.stage, outcome, seconds)
        # attempt: the store numbers it (the times this run ran this stage of this task)
        record = StageRecord(
            run_id=run_id,
            task_id=opened.task_id,
            stage=opened.stage,
            attempt=1,
            outcome=outcome,
            started_at=opened.started_at,
            finished_at=self.journal.now(),
            duration_s=round(seconds, 3),
            result=deps.redactor.value(result),
        )
        await deps.store.runs.record_stage(record)

    async def attempt_started(self, task_id: str, attempt: int, max_attempts: int) -> None:
        state = self.journal.state
        state.current_task, state.attempt, state.max_attempts = task_id, attempt, max_attempts
        if attempt > 1:
            self.journal.log(
                "warning", f"task {task_id}: attempt {attempt} of {max_attempts} (repairing)"
            )

    async def task_completed(self, task_id: str) -> None:
        state = self.journal.state
        state.attempt = None
        state.completed_tasks = min(state.total_tasks, state.completed_tasks + 1)
        state.current_task = None  # the next update (SELECTING, PAUSED) carries the new progress
        self.journal.log("info", f"task {task_id} completed")

    async def counts(self, completed: int, total: int) -> None:
        self.journal.state.completed_tasks, self.journal.state.total_tasks = completed, total

    def pause_requested(self) -> bool:
        return self.journal.state.pause_requested

    def stop_after(self) -> str | None:
        return self.journal.state.stop_after_task
