"""pydantic models of every request and response body (camelCase on the wire)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from runner.config import CUSTOMER_ID
from runner.tools import TOOL_NAMES

__all__ = [
    "AuditPage",
    "BlockedView",
    "CriterionView",
    "CustomerBody",
    "CustomerList",
    "CustomerView",
    "ErrorBody",
    "ExecutionStateView",
    "HealthView",
    "ImplementBody",
    "ImplementCriteria",
    "ImplementView",
    "InstanceView",
    "PrepBody",
    "PrepView",
    "RunBody",
    "RunErrorView",
    "RunList",
    "RunTaskView",
    "RunView",
    "StageView",
    "TaskNextQuery",
    "TaskNextView",
    "TaskView",
    "TransitionBody",
    "UnskipView",
    "VerifyBody",
    "VerifyView",
]

TASK_ID = r"^[0-9]{1,4}(\.[0-9]{1,4}){0,5}$"
BRANCH = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"
KEY = Field(default=None, min_length=1, max_length=200, description="Idempotency key (CONTRACT §7)")
"""The coding tools a request may name (any other is a 400 naming the field)."""
_TOOL_DOC = "The coding tool: aider (the default) or command (the configured command line)."
_REPO_URL_DOC = (
    "The repository: an https or ssh URL (``ssh://…`` or ``user@host:path``), or, when "
    "ALLOW_LOCAL_REPOS is on, a ``file://`` URL or an absolute path. No credentials, query "
    "string, whitespace or control characters (GIT_USERNAME and GIT_TOKEN carry credentials)."
)


def _known_tool(name: str) -> str:
    if name not in TOOL_NAMES:
        known = ", ".join(TOOL_NAMES)
        raise PydanticCustomError(
            "unknown_tool",
            "unknown tool {name}; known tools: {known}",
            {"name": repr(name), "known": known},
        )
    return name


ToolName = Annotated[str, AfterValidator(_known_tool)]
"""A coding tool's name: one of `runner.tools.TOOL_NAMES` (else a 400 naming the field)."""


def _tool(default: str | None) -> Any:
    """The ``tool`` field (its type, `ToolName`, checks the name)."""
    names: list[JsonValue] = [*TOOL_NAMES] if default is not None else [*TOOL_NAMES, None]
    return Field(
        default=default, max_length=64, description=_TOOL_DOC, json_schema_extra={"enum": names}
    )


def _repo_url(*, required: bool = True) -> Any:
    """The ``repoUrl`` field (`runner.git.validate_repo_url` checks it in the route)."""
    if required:
        return Field(min_length=1, max_length=2048, description=_REPO_URL_DOC)
    return Field(default=None, max_length=2048, description=_REPO_URL_DOC)


MAX_ATTEMPTS = Field(
    default=None,
    ge=1,
    le=10,
    description="Attempts per task: an unmet VERIFY or an IMPLEMENT without change is retried "
    "with a repair prompt carrying the evidence (1 = stop on the first error; default 3).",
)


class ApiModel(BaseModel):
    """Request models: camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ViewModel(BaseModel):
    """Response models: camelCase aliases, extra fields allowed (documented subset)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


# -- requests ------------------------------------------------------------------------------


class PrepBody(ApiModel):
    """``POST /prep``."""

    repo_url: str = _repo_url()
    task_id: str = Field(pattern=TASK_ID)
    customer_id: str | None = Field(default=None, pattern=CUSTOMER_ID)
    idempotency_key: str | None = KEY
    force: bool = False


class ImplementCriteria(ApiModel):
    """Overrides of the task list's description, files and requirements."""

    description: str | None = Field(default=None, max_length=20000)
    files: list[str] | None = Field(default=None, max_length=200)
    requirements: list[str] | None = Field(default=None, max_length=200)


class ImplementBody(ApiModel):
    """``POST /implement``."""

    task_id: str = Field(pattern=TASK_ID)
    branch: str | None = Field(default=None, pattern=BRANCH)
    tool: ToolName | None = _tool(None)
    criteria: ImplementCriteria | None = None
    customer_id: str | None = Field(default=None, pattern=CUSTOMER_ID)
    idempotency_key: str | None = KEY
    force: bool = False


class VerifyBody(ApiModel):
    """``POST /verify``."""

    task_id: str = Field(pattern=TASK_ID)
    branch: str | None = Field(default=None, pattern=BRANCH)
    criteria: dict[str, str] | None = None
    customer_id: str | None = Field(default=None, pattern=CUSTOMER_ID)
    idempotency_key: str | None = KEY
    force: bool = False


class CustomerBody(ApiModel):
    """``PUT /customers/{customerId}``."""

    repo_url: str = _repo_url()
    base_branch: str = Field(default="main", pattern=BRANCH)
    tasks_file: str = Field(default="docs/DevTeam/tasks_list.md", min_length=1, max_length=512)
    tool: ToolName = _tool("aider")
    push: bool = False
    default_criteria: dict[str, str] | None = None
    scope_policy: Literal["warn", "reject"] = "warn"
    max_attempts: int | None = MAX_ATTEMPTS


class RunBody(ApiModel):
    """``POST /customers/{customerId}/run``."""

    tool: ToolName | None = _tool(None)
    stop_after_task: str | None = Field(default=None, pattern=TASK_ID)
    max_attempts: int | None = MAX_ATTEMPTS
    idempotency_key: str | None = KEY


class TransitionBody(ApiModel):
    """``POST /customers/{customerId}/pause|resume|stop``."""

    idempotency_key: str | None = KEY


class SkipBody(ApiModel):
    """``POST /customers/{customerId}/tasks/{taskId}/skip``."""

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the task is skipped (kept with the skip and in the audit log): "
        "one line of text, no control characters.",
    )
    idempotency_key: str | None = KEY

    @field_validator("reason")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must be one line without control characters")
        return value


class ResumeBody(TransitionBody):
    """``POST /customers/{customerId}/resume``."""

    from_stage: Literal["prep", "implement", "verify"] | None = Field(
        default=None,
        alias="from",
        description="Continue the task in progress from this stage instead of the one it "
        "stopped in: `verify` re-verifies the branch as it now is (after a person's fix). "
        "Not `complete`: nothing is merged that VERIFY has not passed.",
    )


class TaskNextQuery(ApiModel):
    """``GET /tasks/next`` query."""

    customer_id: str | None = Field(
        default=None,
        pattern=CUSTOMER_ID,
        description="The customer; give it, or repoUrl (a repoUrl given with it must be its own).",
    )
    repo_url: str | None = _repo_url(required=False)
    exclude_completed: bool = True


# -- responses -----------------------------------------------------------------------------


class ErrorDetail(ViewModel):
    """What went wrong."""

    code: str
    message: str
    details: list[dict[str, Any]] = []
    request_id: str | None = None


class ErrorBody(ViewModel):
    """Every error: ``{"success": false, "error": {...}}`` (+ ``taskId`` when known)."""

    success: Literal[False] = False
    error: ErrorDetail
    task_id: str | None = None


class InstanceView(ViewModel):
    """An instance of the service (where several share one PostgreSQL database)."""

    instance_id: str
    url: str | None = Field(
        description="Where it serves requests: its `DEVTEAM_RUNNER_BASE_URL` (null if unset)."
    )


class HealthView(ViewModel):
    """``GET /health``."""

    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: str
    version: str
    dependencies: dict[str, str]
    instance: InstanceView | None = Field(
        default=None,
        description="This instance, where instances share a PostgreSQL database (else null).",
    )


class PrepArtifacts(ViewModel):
    """What PREP did."""

    cloned: bool
    branch_created: bool
    working_directory: str
    branch_synced: str = Field(
        default="",
        description="What PREP did to an existing task branch after the fetch, comma-separated: "
        "`fast-forwarded` (to commits a person pushed to its remote copy), `taken-from-remote` "
        "(a remote copy without the local commits replaced them), `recreated` (it had no "
        "commits beyond the base: started again from the new base), `merged-base`, `rebased` (the "
        "base was force-pushed: its own commits replayed onto the new base); empty when "
        "it was taken as it was.",
    )


class PrepView(ViewModel):
    """``POST /prep`` result."""

    success: bool
    task_id: str
    branch: str
    repo_path: str
    idempotency_key: str | None = None
    customer_id: str
    artifacts: PrepArtifacts


class ImplementArtifacts(ViewModel):
    """What IMPLEMENT produced."""

    diff: str
    stdout: str
    stderr: str
    files_modified: list[str]
    lines_changed: int
    out_of_scope: list[str] = []
    commit: str | None = None
    tokens: dict[str, int] | None = None
    cost: float | None = None


class ImplementView(ViewModel):
    """``POST /implement`` result."""

    success: bool
    task_id: str
    tool: str
    artifacts: ImplementArtifacts
    attempt: int = Field(description="The attempt at the task (the repair loop counts them).")
    prompt: str = Field(description="The prompt the tool was given (redacted).")
    duration: float = Field(description="Seconds the stage took.")
    tool_duration: float = Field(description="Seconds the tool ran.")


class CriterionView(ViewModel):
    """One criterion's verdict: ``passed`` plus whichever of the others are known."""

    passed: bool
    actual: str | None = None
    required: str | None = None
    files: list[str] | None = None
    details: dict[str, Any] | None = Field(
        default=None,
        description="`tests.pass`: each failing test as `new` or `pre-existing`; coverage: "
        "the touched files' rows with `missingLines`.",
    )


class VerifyView(ViewModel):
    """``POST /verify`` result (422 carries the same ``results`` in the error body).

    ``results`` maps each criterion to ``{passed, actual?, required?, files?, details?}``;
    ``tests.pass`` details list each failing test as ``new`` or ``pre-existing``.
    ``notes`` says what the user should know (a lock file out of sync, a base that could not
    be tested).
    """

    success: bool
    task_id: str
    results: dict[str, CriterionView]
    artifacts: dict[str, str]
    notes: list[str] | None = None


class TaskView(ViewModel):
    """The spec's Task Definition Structure plus our extra fields."""

    id: str
    title: str
    description: str
    dependencies: list[str]
    type: str
    files: list[str]
    criteria: dict[str, str]
    requirements: list[str] = []
    prerequisites: list[str] = Field(
        default=[], description="Files named in its dependency clauses."
    )
    line: int = Field(description="Its line in the task list.")
    group: str | None = None
    phase: int | None = None
    status: str = Field(description="pending, in-progress, completed, ... as the list says.")


class BlockedView(ViewModel):
    """A task that cannot run yet, and why."""

    task_id: str
    waiting_for: list[str]
    reason: str


class TaskNextView(ViewModel):
    """``GET /tasks/next``."""

    task: TaskView | None
    dependencies_satisfied: bool
    total_tasks: int
    completed_tasks: int
    progress: float
    blocked: list[BlockedView] | None = Field(
        default=None, description="When no task can run: why each remaining one waits."
    )


class RunErrorView(ViewModel):
    """Why a run stopped FAILED, with its evidence."""

    stage: str
    code: str
    message: str
    details: dict[str, Any] = Field(
        default={},
        description="The evidence: VERIFY `results` (every criterion's), IMPLEMENT "
        "`exitStatus`, git `git` (`command`, `exitStatus`, `stderr`), `lastLines` of each "
        "output, `items` (the error's details list).",
    )
    attempt: int | None = Field(default=None, description="The last attempt at the task.")
    max_attempts: int | None = None
    attempts: list[dict[str, Any]] | None = Field(
        default=None, description="Every attempt at the task: its stage, code and message."
    )


class ExecutionStateView(ViewModel):
    """The spec's Execution State Model plus ``error`` when FAILED."""

    customer_id: str
    current_task: str | None
    status: str
    branch: str | None
    progress: float
    start_time: str | None
    last_update: str | None
    artifacts: dict[str, Any]
    error: RunErrorView | None = None
    attempt: int | None = None
    max_attempts: int | None = None


class SkipView(ViewModel):
    """A skipped task and the customer's state after the skip."""

    task_id: str
    reason: str
    skipped_at: str
    state: ExecutionStateView


class UnskipView(ViewModel):
    """A task no longer skipped and the customer's state."""

    task_id: str
    state: ExecutionStateView


class CustomerView(ViewModel):
    """A registered customer with its execution state."""

    customer_id: str
    repo_url: str
    base_branch: str
    tasks_file: str
    tool: str
    push: bool
    max_attempts: int | None = None
    created_at: str
    updated_at: str
    state: ExecutionStateView
    owner: InstanceView | None = Field(
        default=None,
        description="The instance running this customer now, where instances share a "
        "PostgreSQL database: commands sent to any instance are forwarded to it. Null when "
        "no instance holds the customer (the next command's instance takes it) or alone.",
    )


class CustomerList(ViewModel):
    """``GET /customers``."""

    customers: list[CustomerView]


class StageView(ViewModel):
    """One stage of a run: when, how long, which attempt, how it ended."""

    stage: str
    attempt: int
    outcome: Literal["ok", "failed", "stopped"]
    started_at: str
    finished_at: str
    duration_s: float
    result: dict[str, Any] = Field(
        description="ok: the stage's result without its bulk (VERIFY: every criterion's "
        "result); failed: the error with its evidence, as the state's `error`."
    )


class RunTaskView(ViewModel):
    """A task of a run (``taskId`` null for the SELECT that found none) and its stages."""

    task_id: str | None
    stages: list[StageView]


class RunView(ViewModel):
    """One autopilot run: its outcome and the stages of each task, in the order they ran."""

    run_id: str
    status: str
    params: dict[str, Any]
    current_task: str | None
    error: RunErrorView | None
    started_at: str
    updated_at: str
    finished_at: str | None
    duration_s: float = Field(description="Time spent in stages")
    tasks: list[RunTaskView]


class RunList(ViewModel):
    """``GET /customers/{id}/runs``: newest first."""

    runs: list[RunView]


class AuditPage(ViewModel):
    """``GET /audit``."""

    entries: list[dict[str, Any]]
