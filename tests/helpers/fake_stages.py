"""Scripted stages for actor and API tests: no git, no tool, controllable with events."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import trio

from runner.errors import CriteriaNotMetError, NotFoundError, RunnerError, ToolError
from runner.pipeline import (
    CompleteResult,
    ImplementArtifacts,
    ImplementRequest,
    ImplementResult,
    PrepArtifacts,
    PrepRequest,
    PrepResult,
    SelectResult,
    StageContext,
    VerifyRequest,
    VerifyResult,
)
from runner.tasks import Task
from runner.verify import CriterionResult

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from runner.config import Settings


@attrs.define(eq=False)
class FakeStages:
    """Tasks ``1.1.1``... per customer; each stage can fail, block, or count its calls."""

    tasks: tuple[str, ...] = ("1.1.1", "1.1.2", "1.1.3")
    done: dict[str, set[str]] = attrs.field(factory=dict)
    calls: list[tuple[str, str, str | None]] = attrs.field(factory=list)
    fail: dict[tuple[str, str], RunnerError] = attrs.field(factory=dict)
    fail_times: dict[tuple[str, str], int] = attrs.field(factory=dict)
    repairs: list[str | None] = attrs.field(factory=list)
    crash: set[str] = attrs.field(factory=set)
    gates: dict[str, trio.Event] = attrs.field(factory=dict)
    entered: dict[str, trio.Event] = attrs.field(factory=dict)
    resets: int = 0
    branches: set[str] = attrs.field(factory=set)

    def gate(self, stage: str) -> trio.Event:
        """Block ``stage`` until the returned event is set."""
        self.gates[stage] = trio.Event()
        self.entered[stage] = trio.Event()
        return self.gates[stage]

    async def _enter(self, ctx: StageContext, stage: str, task_id: str | None) -> None:
        self.calls.append((ctx.customer.customer_id, stage, task_id))
        ctx.log("info", f"{stage} {task_id} GIT_TOKEN=ghp_{'x' * 36}")
        if stage in self.entered:
            self.entered[stage].set()
        if stage in self.gates:
            await self.gates[stage].wait()
        if stage in self.crash:
            raise RuntimeError(f"{stage} crashed")
        key = (stage, task_id or "")
        error = self.fail.get(key)
        if error is not None and self.fail_times.get(key, 1) > 0:
            if key in self.fail_times:
                self.fail_times[key] -= 1
            raise error

    def _done(self, ctx: StageContext) -> set[str]:
        return self.done.setdefault(ctx.customer.customer_id, set())

    async def select(self, ctx: StageContext, *, exclude_completed: bool = True) -> SelectResult:
        await self._enter(ctx, "select", None)
        done = self._done(ctx)
        remaining = [t for t in self.tasks if t not in done or not exclude_completed]
        task = _task(remaining[0]) if remaining else None
        return SelectResult(task, total_tasks=len(self.tasks), completed_tasks=len(done))

    async def prep(self, ctx: StageContext, request: PrepRequest) -> PrepResult:
        await self._enter(ctx, "prep", request.task_id)
        if request.task_id not in self.tasks:
            raise NotFoundError("no such task", code="task_not_found", task_id=request.task_id)
        branch = f"task/{request.task_id.replace('.', '-')}-fake"
        created = branch not in self.branches  # a later PREP of the task finds its branch
        self.branches.add(branch)
        artifacts = PrepArtifacts(created, created, "", "/tmp/fake")
        return PrepResult(request.task_id, branch, "/tmp/fake", artifacts)

    async def implement(self, ctx: StageContext, request: ImplementRequest) -> ImplementResult:
        self.repairs.append(request.repair)
        await self._enter(ctx, "implement", request.task_id)
        diff = f"+x{len(self.repairs)}"  # every attempt changes the branch a little more
        artifacts = ImplementArtifacts(diff, "", "", ("a.py",), 1, (), "1" * 40)
        return ImplementResult(request.task_id, request.tool or "aider", artifacts,
                               request.attempt, "prompt", 0.01, 0.01)  # fmt: skip

    async def verify(self, ctx: StageContext, request: VerifyRequest) -> VerifyResult:
        await self._enter(ctx, "verify", request.task_id)
        passed = CriterionResult("tests.pass", True, "1 passed", "true")
        return VerifyResult(request.task_id, {"tests.pass": passed}, {})

    async def complete(self, ctx: StageContext, task_id: str, branch: str) -> CompleteResult:
        await self._enter(ctx, "complete", task_id)
        self._done(ctx).add(task_id)
        return CompleteResult(task_id, "0" * 40, False)

    async def reset(self, ctx: StageContext) -> None:
        self.resets += 1

    async def cleanup(self, settings: Settings, in_use: Collection[Path]) -> list[Path]:
        return []


def criteria_failure(task_id: str) -> CriteriaNotMetError:
    """A 422 like the real VERIFY raises."""
    return CriteriaNotMetError("criteria not met: test.coverage", task_id=task_id,
                               extra={"results": {"test.coverage": {"passed": False}}})  # fmt: skip


def tool_failure(task_id: str) -> ToolError:
    """A 500 like the real IMPLEMENT raises when the tool changed nothing."""
    return ToolError("aider made no change", code="tool_no_change", task_id=task_id)


def _task(task_id: str) -> Task:
    return Task(id=task_id, title=f"Task {task_id}", description="d", type="atomic",
                dependencies=(), files=(), criteria={}, requirements=(), prerequisites=(),
                line=1, group=None, phase=None, status="pending", style="checkbox")  # fmt: skip
