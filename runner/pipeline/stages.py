"""The real :class:`~runner.pipeline.base.Stages`: git, the task list, the tool, the gates."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import attrs
import trio

from runner.git import remove_idle_workspaces
from runner.pipeline import complete as complete_stage
from runner.pipeline import implement as implement_stage
from runner.pipeline import prep as prep_stage
from runner.pipeline import select as select_stage
from runner.pipeline import verify as verify_stage
from runner.pipeline.common import WorkspaceAccess

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from runner.config import Settings
    from runner.git import Workspace
    from runner.pipeline.base import (
        CompleteResult,
        ImplementRequest,
        PrepRequest,
        SelectResult,
        StageContext,
        StageResult,
        VerifyRequest,
    )

__all__ = ["PipelineStages"]


@attrs.define(eq=False)
class PipelineStages:
    """Each stage runs in the customer's workspace; the actor serialises them."""

    access: WorkspaceAccess = attrs.field(factory=WorkspaceAccess)

    def _workspace(self, ctx: StageContext) -> Workspace:
        """The customer's workspace, with the last stage's clean mark taken.

        Taken first thing: a stage that fails or is killed must not leave it behind.
        """
        ws = self.access.workspace(ctx)
        ws.take_clean_mark()
        return ws

    async def select(self, ctx: StageContext, *, exclude_completed: bool = True) -> SelectResult:
        """SELECT the next task."""
        ws = self._workspace(ctx)
        result = await select_stage.select(ctx, ws, exclude_completed=exclude_completed)
        ws.mark_clean()
        return result

    async def prep(self, ctx: StageContext, request: PrepRequest) -> StageResult:
        """PREP the task branch."""
        ws = self._workspace(ctx)
        result = await prep_stage.prep(ctx, ws, request)
        ws.mark_clean()
        return result

    async def implement(self, ctx: StageContext, request: ImplementRequest) -> StageResult:
        """IMPLEMENT the task with the coding tool."""
        ws = self._workspace(ctx)
        result: StageResult = await implement_stage.implement(ctx, ws, self.access, request)
        ws.mark_clean()
        return result

    async def verify(self, ctx: StageContext, request: VerifyRequest) -> StageResult:
        """VERIFY the task branch."""
        ws = self._workspace(ctx)
        result = await verify_stage.verify(ctx, ws, request)
        ws.mark_clean()
        return result

    async def complete(self, ctx: StageContext, task_id: str, branch: str) -> CompleteResult:
        """COMPLETE: mark done, merge, push."""
        ws = self._workspace(ctx)
        result = await complete_stage.complete(ctx, ws, task_id, branch)
        ws.mark_clean()
        return result

    async def reset(self, ctx: StageContext) -> None:
        """Leave the workspace clean after a stop."""
        ws = self._workspace(ctx)
        if ws.git_dir.is_dir():
            await ws.repair()

    async def cleanup(self, settings: Settings, in_use: Collection[Path]) -> list[Path]:
        """Remove workspaces idle longer than ``CLEANUP_AGE_HOURS``."""
        max_age = settings.cleanup_age_hours * 3600
        root = settings.workspace_dir.absolute()

        def sweep() -> list[Path]:
            return remove_idle_workspaces(root, max_age_s=max_age, in_use=in_use, now=time.time())

        return await trio.to_thread.run_sync(sweep)
