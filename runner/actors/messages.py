"""Commands sent to a customer actor, and the one-slot reply channel they carry."""

from __future__ import annotations

from typing import Any, ClassVar, TypeAlias

import attrs
import outcome
import trio

from runner.pipeline import ImplementRequest, PrepRequest, VerifyRequest

__all__ = [
    "Command",
    "GetState",
    "ManualStage",
    "Pause",
    "ReadTaskList",
    "Reply",
    "Resume",
    "RunImplement",
    "RunPrep",
    "RunSelect",
    "RunVerify",
    "SkipTask",
    "StartRun",
    "Stop",
    "UnskipTask",
    "WorkspaceStage",
]

Reply: TypeAlias = trio.MemorySendChannel[outcome.Outcome[Any]]


# -- manual stages: one command each, replying with the stage's result -----------------------


@attrs.frozen
class RunSelect:
    """``GET /tasks/next``: SELECT the next task; replies with a ``SelectResult``."""

    exclude_completed: bool
    reply: Reply


@attrs.frozen
class ReadTaskList:
    """Reply with the parsed task list as SELECT reads it (``None`` if it could not be read).

    While a run holds the workspace, with the list the run read last.
    """

    reply: Reply


@attrs.frozen
class RunPrep:
    """``POST /prep``; replies with a ``PrepResult``."""

    stage: ClassVar[str] = "prep"
    request: PrepRequest
    reply: Reply


@attrs.frozen
class RunImplement:
    """``POST /implement``; replies with an ``ImplementResult``."""

    stage: ClassVar[str] = "implement"
    request: ImplementRequest
    reply: Reply


@attrs.frozen
class RunVerify:
    """``POST /verify``; replies with a ``VerifyResult`` (an unmet criterion is an error)."""

    stage: ClassVar[str] = "verify"
    request: VerifyRequest
    reply: Reply


WorkspaceStage: TypeAlias = RunPrep | RunImplement | RunVerify
"""The manual stages that work on a task in the workspace (shown in the state while they run)."""
ManualStage: TypeAlias = RunSelect | ReadTaskList | WorkspaceStage


@attrs.frozen
class StartRun:
    """Start the autopilot (CONTRACT §5)."""

    tool: str | None
    stop_after_task: str | None
    reply: Reply
    max_attempts: int | None = None
    request_id: str | None = None
    """The request that started the run (named in the run's error log line)."""


@attrs.frozen
class Pause:
    """Pause after the current stage."""

    reply: Reply


@attrs.frozen
class Resume:
    """Continue a paused, failed or stopped run from where it stopped (or ``from_stage``)."""

    reply: Reply
    request_id: str | None = None
    from_stage: str | None = None


@attrs.frozen
class Stop:
    """Cancel the run now."""

    reply: Reply


@attrs.frozen
class SkipTask:
    """Skip a task: SELECT passes over it from now on; a run stopped at it moves on."""

    task_id: str
    reason: str
    skipped_by: str | None
    reply: Reply


@attrs.frozen
class UnskipTask:
    """Undo a skip: SELECT considers the task again."""

    task_id: str
    reply: Reply


@attrs.frozen
class GetState:
    """Return the execution state."""

    reply: Reply


Command: TypeAlias = (
    ManualStage | StartRun | Pause | Resume | Stop | SkipTask | UnskipTask | GetState
)
