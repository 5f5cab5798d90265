"""The customer's execution state (the spec's Execution State Model) and its transitions."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = [
    "ACTIVE",
    "RESTING",
    "STAGE_FRACTION",
    "STAGE_STATUS",
    "ExecutionState",
    "Status",
    "allowed_from",
]


class Status:
    """Execution statuses (CONTRACT §5)."""

    IDLE = "IDLE"
    SELECTING = "SELECTING"
    PREPARING = "PREPARING"
    IMPLEMENTING = "IMPLEMENTING"
    VERIFYING = "VERIFYING"
    COMPLETING = "COMPLETING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    DONE = "DONE"


ACTIVE = (
    Status.SELECTING,
    Status.PREPARING,
    Status.IMPLEMENTING,
    Status.VERIFYING,
    Status.COMPLETING,
)
RESTING = (Status.IDLE, Status.PAUSED, Status.STOPPED, Status.FAILED, Status.DONE)

STAGE_STATUS = {
    "select": Status.SELECTING,
    "prep": Status.PREPARING,
    "implement": Status.IMPLEMENTING,
    "verify": Status.VERIFYING,
    "complete": Status.COMPLETING,
}
"""The status of each pipeline stage."""

# Share of one task's work done when a stage starts, for the progress figure.
STAGE_FRACTION = {
    Status.SELECTING: 0.0,
    Status.PREPARING: 0.1,
    Status.IMPLEMENTING: 0.3,
    Status.VERIFYING: 0.7,
    Status.COMPLETING: 0.9,
}

_ALLOWED = {
    "run": (Status.IDLE, Status.STOPPED, Status.FAILED, Status.DONE),
    "pause": ACTIVE,
    "resume": (Status.PAUSED, Status.FAILED, Status.STOPPED),
    "skip": (Status.IDLE, Status.PAUSED, Status.FAILED, Status.STOPPED, Status.DONE),
    "stop": (*ACTIVE, Status.PAUSED),
}


def allowed_from(action: str) -> tuple[str, ...]:
    """Return the statuses in which ``action`` (run, pause, resume, stop, skip) is valid."""
    return _ALLOWED[action]


@attrs.define
class ExecutionState:
    """Mutable state owned by one customer actor; persisted on every change."""

    customer_id: str
    status: str = Status.IDLE
    run_id: str | None = None
    current_task: str | None = None
    branch: str | None = None
    progress: float = 0.0
    completed_tasks: int = 0
    total_tasks: int = 0
    start_time: str | None = None
    last_update: str | None = None
    repo_path: str | None = None
    logs: list[str] = attrs.field(factory=list)
    error: dict[str, Any] | None = None
    pause_requested: bool = False
    stop_after_task: str | None = None
    tool: str | None = None
    resume_stage: str | None = None
    attempt: int | None = None
    max_attempts: int | None = None

    def to_wire(self) -> dict[str, Any]:
        """Return the spec's Execution State Model (camelCase) plus our extra fields."""
        body: dict[str, Any] = {
            "customerId": self.customer_id,
            "currentTask": self.current_task,
            "status": self.status,
            "branch": self.branch,
            "progress": self.progress,
            "startTime": self.start_time,
            "lastUpdate": self.last_update,
            "artifacts": {"repoPath": self.repo_path, "logs": list(self.logs)},
            "runId": self.run_id,
            "completedTasks": self.completed_tasks,
            "totalTasks": self.total_tasks,
            "pauseRequested": self.pause_requested,
            "stopAfterTask": self.stop_after_task,
        }
        if self.attempt is not None:
            body["attempt"], body["maxAttempts"] = self.attempt, self.max_attempts
        if self.error is not None:
            body["error"] = dict(self.error)
        return body

    def update_frame(self) -> dict[str, Any]:
        """Return the ``execution-update`` frame for the current state (without ``seq``)."""
        frame: dict[str, Any] = {
            "type": "execution-update",
            "customerId": self.customer_id,
            "taskId": self.current_task,
            "status": self.status,
            "progress": self.progress,
            "timestamp": self.last_update,
            "runId": self.run_id,
            "branch": self.branch,
        }
        if self.attempt is not None:
            frame["attempt"], frame["maxAttempts"] = self.attempt, self.max_attempts
        if self.error is not None:
            frame["error"] = dict(self.error)
        return frame

    def to_record(self) -> dict[str, Any]:
        """Return every field, for the store."""
        return attrs.asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ExecutionState:
        """Rebuild a state saved by :meth:`to_record`, ignoring unknown keys."""
        names = {a.name for a in attrs.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})
