"""The runner's exceptions; every one maps to the contract's error body.

```
RunnerError(Exception): code + http_status (ClassVar), message, details
  InvalidInputError 400 (field path)   UnauthorizedError 401   ForbiddenError 403
  NotFoundError 404                    PayloadTooLargeError 413
  ConflictError 409 > InvalidTransitionError (current + allowed), IdempotencyKeyInFlightError,
                      LeaseLostError (another instance owns the customer now)
  IdempotencyKeyReusedError 422        CriteriaNotMetError 422 (all results)
  TaskListError 422 (line numbers)     ConfigError (env var name; startup only)
  InsufficientStorageError 507 (a write failed: the disk or the database is full)
  StageError 500 (stage, code) > GitError, RepoAccessError (409), ToolError, VerifyError
```
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ConfigError",
    "ConflictError",
    "CriteriaNotMetError",
    "ForbiddenError",
    "GitError",
    "IdempotencyKeyInFlightError",
    "IdempotencyKeyReusedError",
    "InsufficientStorageError",
    "InvalidInputError",
    "InvalidTransitionError",
    "LeaseLostError",
    "MergeConflictError",
    "NotFoundError",
    "OwnedElsewhere",
    "OwnerUnavailableError",
    "PayloadTooLargeError",
    "RepoAccessError",
    "RunnerError",
    "StageError",
    "TaskListError",
    "ToolError",
    "UnauthorizedError",
    "VerifyError",
]


class RunnerError(Exception):
    """Base of every error the service reports to a client.

    Args:
        message: A human-readable sentence (redacted before it leaves the process).
        code: Overrides the class's default machine-readable code.
        details: Structured details, e.g. ``[{"field": "repoUrl", "message": "..."}]``.
        task_id: The task concerned, echoed as ``taskId`` in the error body.
        extra: Additional top-level fields for the error body (e.g. verification results).
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        task_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance override of the class default
        self.details = [dict(d) for d in details]
        self.task_id = task_id
        self.extra = dict(extra or {})
        self.headers: dict[str, str] = {}


class InvalidInputError(RunnerError):
    """A request field is missing or malformed (400)."""

    code = "invalid_input"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        if field is not None and "details" not in kwargs:
            kwargs["details"] = [{"field": field, "message": message}]
        super().__init__(message, **kwargs)
        self.field = field


class UnauthorizedError(RunnerError):
    """No or an unknown bearer token (401)."""

    code = "unauthorized"
    http_status = 401


class ForbiddenError(RunnerError):
    """The token does not reach this customer (403)."""

    code = "forbidden"
    http_status = 403


class NotFoundError(RunnerError):
    """The customer, task, branch or route does not exist (404)."""

    code = "not_found"
    http_status = 404


class PayloadTooLargeError(RunnerError):
    """The request body is over the limit (413)."""

    code = "payload_too_large"
    http_status = 413


class ConflictError(RunnerError):
    """The request conflicts with the current state (409)."""

    code = "conflict"
    http_status = 409


class LeaseLostError(ConflictError):
    """A write fenced by a customer's lease, whose lease has expired or moved on (409).

    The writer's fencing token is no longer the lease's: whatever it was doing for the
    customer is now another instance's to do.
    """

    code = "lease_lost"


class InvalidTransitionError(ConflictError):
    """A run command is not valid in the current status (409)."""

    code = "invalid_transition"

    def __init__(self, current: str, allowed: Sequence[str], action: str) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"cannot {action} while {current}; {action} is valid in: {allowed_text}",
            extra={"currentStatus": current, "allowedStatuses": list(allowed)},
        )
        self.current = current
        self.allowed = list(allowed)


class IdempotencyKeyInFlightError(ConflictError):
    """A request with the same idempotency key is still running (409 + Retry-After)."""

    code = "idempotency_key_in_flight"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("a request with this idempotency key is still in progress; retry later")
        self.headers["Retry-After"] = str(retry_after_s)


class OwnerUnavailableError(RunnerError):
    """The customer's owning instance cannot take the request now (503 + Retry-After).

    Its owner is being replaced (a lease expired a moment ago, or an instance is taking it
    over) or cannot be reached; another instance takes it within the lease TTL.
    """

    code = "owner_unavailable"
    http_status = 503

    def __init__(self, message: str, lease_ttl_s: float) -> None:
        super().__init__(message)
        # within a lease's TTL the customer has an owner that takes requests again
        self.headers["Retry-After"] = str(max(1, math.ceil(lease_ttl_s)))


class OwnedElsewhere(Exception):  # noqa: N818  # not an error: the request goes elsewhere
    """The customer is run by another live instance: forward the request to it.

    Not a :class:`RunnerError`, so that nothing records it as the request's answer (an
    idempotency key is given up, not completed); the HTTP layer forwards the request.
    """

    def __init__(self, customer_id: str, owner: str, url: str | None) -> None:
        super().__init__(f"customer {customer_id} is run by instance {owner}")
        self.customer_id = customer_id
        self.owner = owner
        self.url = url


class IdempotencyKeyReusedError(RunnerError):
    """The idempotency key was used before with another payload (422)."""

    code = "idempotency_key_reused"
    http_status = 422


class CriteriaNotMetError(RunnerError):
    """Verification ran and at least one criterion failed (422, with every result)."""

    code = "criteria_not_met"
    http_status = 422


class TaskListError(RunnerError):
    """The task list is missing or cannot be used (422); details carry line numbers."""

    code = "task_list_invalid"
    http_status = 422


class InsufficientStorageError(RunnerError):
    """A write failed for lack of space: the disk or the database is full (507)."""

    code = "insufficient_storage"
    http_status = 507


class ConfigError(RunnerError):
    """An environment variable or flag has a bad value; names the variable."""

    code = "config_invalid"
    http_status = 500

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}", details=[{"field": variable}])
        self.variable = variable


class StageError(RunnerError):
    """A pipeline stage failed (500 unless a subclass says otherwise)."""

    code = "stage_failed"
    http_status = 500
    stage: ClassVar[str] = "unknown"


class GitError(StageError):
    """A git operation failed."""

    code = "git_failed"
    stage = "prep"


class MergeConflictError(GitError):
    """The branch cannot be brought together with the base without a person (409).

    ``merge_conflict`` names the files (``files`` in the extra); ``base_rewritten``: the base
    was force-pushed under a task branch that is on the remote too.
    """

    code = "merge_conflict"
    http_status = 409


class RepoAccessError(GitError):
    """The remote is unreachable, missing, or refused our credentials (409)."""

    code = "repo_access_denied"
    http_status = 409


class ToolError(StageError):
    """The coding tool failed, timed out or changed nothing."""

    code = "tool_failed"
    stage = "implement"


class VerifyError(StageError):
    """Verification could not run (missing toolchain, timeout)."""

    code = "verify_failed"
    stage = "verify"
