"""The real :class:`~runner.pipeline.base.Stages`: git, the task list, the tool, the gates."""

from __future__ import annotations

import contextlib
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
    from collections.abc import Collection, Iterator
    from pathlib import Path

    from runner.config import Settings
    from runner.git import Workspace
    from runner.pipeline.base import (
        CompleteResult,
        ImplementRequest,
        ImplementResult,
        PrepRequest,
        PrepResult,
        SelectResult,
        StageContext,
        VerifyRequest,
        VerifyResult,
    )

__all__ = ["PipelineStages"]


@attrs.define(eq=False)
class PipelineStages:
    """Each stage runs in the customer's workspace; the actor serialises them."""

    access: WorkspaceAccess = attrs.field(factory=WorkspaceAccess)

    @contextlib.contextmanager
    def _stage_in(self, ctx: StageContext) -> Iterator[Workspace]:
        """The customer's workspace for one stage, between the two clean marks.

        The last stage's mark is taken first thing, so a stage that fails or is killed leaves
        none behind; a stage that ends well sets it for the next one.
        """
        ws = self.access.workspace(ctx)
        ws.take_clean_mark()
        yield ws
        ws.mark_clean()

    async def select(self, ctx: StageContext, *, exclude_completed: bool = True) -> SelectResult:
        """SELECT the next task."""
        with self._stage_in(ctx) as ws:
            return await select_stage.select(ctx, ws, exclude_completed=exclude_completed)

    async def prep(self, ctx: StageContext, request: PrepRequest) -> PrepResult:
        """PREP the task branch."""
        with self._stage_in(ctx) as ws:
            return await prep_stage.prep(ctx, ws, request)

    async def implement(self, ctx: StageContext, request: ImplementRequest) -> ImplementResult:
        """IMPLEMENT the task with the coding tool."""
        with self._stage_in(ctx) as ws:
            return await implement_stage.implement(ctx, ws, self.access, request)

    async def verify(self, ctx: StageContext, request: VerifyRequest) -> VerifyResult:
        """VERIFY the task branch."""
        with self._stage_in(ctx) as ws:
            return await verify_stage.verify(ctx, ws, request)

    async def complete(self, ctx: StageContext, task_id: str, branch: str) -> CompleteResult:
        """COMPLETE: mark done, merge, push."""
        with self._stage_in(ctx) as ws:
            return await complete_stage.complete(ctx, ws, task_id, branch)

    async def reset(self, ctx: StageContext) -> None:
        """Leave the workspace clean after a stop."""
        ws = self.access.workspace(ctx)
        ws.take_clean_mark()  # the stopped stage took it already; a repaired tree earns none
        if ws.git_dir.is_dir():
            await ws.repair()

    async def cleanup(self, settings: Settings, in_use: Collection[Path]) -> list[Path]:
        """Remove workspaces idle longer than ``CLEANUP_AGE_HOURS``."""
        max_age = settings.cleanup_age_hours * 3600
        root = settings.workspace_dir.absolute()

        def sweep() -> list[Path]:
            return remove_idle_workspaces(root, max_age_s=max_age, in_use=in_use, now=time.time())

        return await trio.to_thread.run_sync(sweep)
