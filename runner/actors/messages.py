"""Commands sent to a customer actor, and the one-slot reply channel they carry."""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs
import outcome
import trio

__all__ = [
    "Command",
    "GetState",
    "Pause",
    "Reply",
    "Resume",
    "RunStage",
    "SkipTask",
    "StartRun",
    "Stop",
]

Reply: TypeAlias = trio.MemorySendChannel[outcome.Outcome[Any]]


@attrs.frozen
class RunStage:
    """Run one manual stage (``select``, ``prep``, ``implement``, ``verify``) and reply.

    ``tasks`` replies with the parsed task list as SELECT reads it (``None`` if no stage has
    read it); while a run holds the workspace, with the list the run read last.
    """

    stage: str
    request: Any
    reply: Reply


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
class GetState:
    """Return the execution state."""

    reply: Reply


Command: TypeAlias = RunStage | StartRun | Pause | Resume | Stop | SkipTask | GetState
