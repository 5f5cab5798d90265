"""One actor per customer: a command loop that decides and starts, never awaiting a stage.

Stages run as child tasks in the actor's nursery, each under a cancel scope the actor keeps
(``stop`` cancels it; ``pause`` is a flag read between stages). Every state change goes
through the actor's :class:`~runner.actors.journal.Journal`, which persists, then publishes.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import outcome
import structlog
import trio

from runner.actors.deps import ActorDeps
from runner.actors.hooks import RunHooks
from runner.actors.journal import Journal, Persisting
from runner.actors.messages import (
    Command,
    GetState,
    ManualStage,
    Pause,
    ReadTaskList,
    Reply,
    Resume,
    RunImplement,
    RunPrep,
    RunSelect,
    RunVerify,
    SkipTask,
    StartRun,
    Stop,
    UnskipTask,
    WorkspaceStage,
)
from runner.actors.state import STAGE_STATUS, ExecutionState, Status, allowed_from
from runner.errors import (
    ConflictError,
    InsufficientStorageError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    RunnerError,
)
from runner.pipeline import (
    DEFAULT_MAX_ATTEMPTS,
    ResumePoint,
    RunOutcome,
    StageContext,
    StepSink,
    TaskListMemo,
    drive,
)
from runner.store import TERMINAL_STATUSES, RunRecord, SkipRecord, StepRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["CustomerActor"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

_CLEANUP_GRACE_S = 30.0
_SAVE_RETRY_S = 0.5
_SAVE_RETRY_MAX_S = 30.0


@attrs.define(eq=False)
class CustomerActor:
    """Owns one customer's workspace and execution state."""

    customer_id: str
    deps: ActorDeps
    state: ExecutionState
    _send: trio.MemorySendChannel[Command] = attrs.field(init=False)
    _recv: trio.MemoryReceiveChannel[Command] = attrs.field(init=False)
    _nursery: trio.Nursery | None = None
    _run_scope: trio.CancelScope | None = None
    _manual: deque[ManualStage] = attrs.field(factory=deque)
    _manual_running: bool = False
    journal: Journal = attrs.field(init=False)
    _task_lists: TaskListMemo = attrs.field(factory=TaskListMemo)
    _replies: set[Reply] = attrs.field(factory=set)
    _run_request_id: str | None = None

    def __attrs_post_init__(self) -> None:
        self._send, self._recv = trio.open_memory_channel[Command](self.deps.settings.inbox_size)
        self.journal = Journal(self.customer_id, self.deps, self.state)

    # -- the caller's side -------------------------------------------------------------

    async def ask(self, make: Callable[[Reply], Command]) -> Any:
        """Send the command built by ``make`` and return the actor's reply (or raise its error)."""
        send, recv = trio.open_memory_channel[outcome.Outcome[Any]](1)
        async with recv:
            try:
                await self._send.send(make(send))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise RunnerError("the customer's actor stopped", code="internal") from None
            try:
                result = await recv.receive()
            except trio.EndOfChannel:
                raise RunnerError("the customer's actor crashed", code="internal") from None
        return result.unwrap()

    # -- the actor's side ----------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve commands until cancelled."""
        # The task was spawned from whatever request first reached this customer, and a
        # trio task starts with a copy of its spawner's context: drop that request's ids.
        structlog.contextvars.clear_contextvars()
        with structlog.contextvars.bound_contextvars(customer_id=self.customer_id):
            try:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.start_soon(self.journal.flush_logs)
                    task_status.started()
                    async with self._recv:
                        async for command in self._recv:
                            await self._handle(command)
            finally:
                for reply in self._replies:
                    reply.close()

    def close(self) -> None:
        """End :meth:`run` (the customer was unregistered); pending callers get an error."""
        self._send.close()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def _reply(self, reply: Reply, result: outcome.Outcome[Any]) -> None:
        self._replies.discard(reply)
        with contextlib.suppress(
            trio.BrokenResourceError, trio.ClosedResourceError, trio.WouldBlock
        ):
            reply.send_nowait(result)  # the caller may have given up
        reply.close()

    def _value(self, reply: Reply, value: Any) -> None:
        self._reply(reply, outcome.Value(value))

    def _error(self, reply: Reply, exc: BaseException) -> None:
        self._reply(reply, outcome.Error(exc))

    async def _handle(self, command: Command) -> None:
        self._replies.add(command.reply)
        try:
            match command:
                case GetState():
                    self._value(command.reply, self.state.to_wire())
                case RunSelect() | ReadTaskList() | RunPrep() | RunImplement() | RunVerify():
                    self._queue_stage(command)
                case StartRun():
                    await self._start_run(command)
                case Pause():
                    await self._pause(command)
                case Resume():
                    await self._resume_run(command)
                case Stop():
                    await self._stop(command)
                case SkipTask():
                    await self._skip(command)
                case UnskipTask():
                    await self._unskip(command)
        except RunnerError as exc:
            self._error(command.reply, exc)

    @property
    def busy(self) -> bool:
        """Whether a run or a manual stage is in progress."""
        return self._running() or self._manual_running

    def _running(self) -> bool:
        return self._run_scope is not None

    def _check(self, action: str) -> None:
        allowed = allowed_from(action)
        status = self.state.status
        if action == "run" and self._running():
            raise InvalidTransitionError(status, allowed, action)
        if status not in allowed:
            raise InvalidTransitionError(status, allowed, action)

    def _check_idle(self, action: str) -> None:
        """:meth:`_check`, and no manual stage may be running either (409 ``busy``)."""
        self._check(action)
        if self._manual_running:
            raise ConflictError("a manual stage is running; retry when it ends", code="busy")

    # -- autopilot commands --------------------------------------------------------------

    async def _start_run(self, command: StartRun) -> None:
        self._check_idle("run")
        self._run_request_id = command.request_id
        run_id, now = uuid.uuid4().hex, self._now()
        params = {
            "tool": command.tool,
            "stopAfterTask": command.stop_after_task,
            "maxAttempts": command.max_attempts,
        }
        record = RunRecord(
            run_id=run_id,
            customer_id=self.customer_id,
            status=Status.SELECTING,
            params=params,
            current_task=None,
            error=None,
            started_at=now,
            updated_at=now,
            finished_at=None,
        )
        # the run's row and the state that starts it: one transaction, or neither
        await self.journal.change(
            Status.SELECTING,
            new_run=record,
            run_id=run_id,
            start_time=now,
            error=None,
            pause_requested=False,
            current_task=None,
            branch=None,
            stop_after_task=command.stop_after_task,
            tool=command.tool,
            max_attempts=command.max_attempts,
            attempt=None,
        )
        self._value(command.reply, self.state.to_wire())
        self._launch_run(None)

    async def _resume_run(self, command: Resume) -> None:
        self._check("resume")
        if self.state.run_id is None:
            raise InvalidTransitionError(self.state.status, ("PAUSED",), "resume")
        if command.from_stage is not None and self.state.current_task is None:
            raise ConflictError(
                f"there is no task in progress to resume from {command.from_stage}",
                code="no_task_in_progress",
            )
        self._run_request_id = command.request_id
        stage = command.from_stage or self.state.resume_stage
        await self.journal.change(
            STAGE_STATUS[stage] if stage and self.state.current_task else Status.SELECTING,
            error=None,
            pause_requested=False,
            resume_stage=stage,
        )
        self._value(command.reply, self.state.to_wire())
        self._launch_run(self._resume)

    @property
    def _resume(self) -> ResumePoint | None:
        """Where a resumed run continues (persisted in the state, so it survives restarts)."""
        s = self.state
        if s.resume_stage is None or s.current_task is None:
            return None
        return ResumePoint(s.current_task, s.resume_stage, s.branch)

    async def _pause(self, command: Pause) -> None:
        self._check("pause")
        await self.journal.change(self.state.status, pause_requested=True)
        self._value(command.reply, self.state.to_wire())

    async def _stop(self, command: Stop) -> None:
        self._check("stop")
        if self._run_scope is not None:
            self._run_scope.cancel()  # the run task persists STOPPED after its cleanup
        else:
            await self._finish_run(RunOutcome(Status.STOPPED, resume=self._resume))
        self.state.pause_requested = False
        self._value(command.reply, self.state.to_wire())

    async def _skip(self, command: SkipTask) -> None:
        self._check_idle("skip")
        self._check_skippable(command.task_id)
        skip = SkipRecord(
            self.customer_id, command.task_id, command.reason, command.skipped_by, self._now()
        )
        await self.deps.store.skips.add(skip)
        self.journal.log("warning", f"task {command.task_id} skipped: {command.reason}")
        at_it = self.state.current_task == command.task_id  # a resume moves on to the next task
        moved_on: dict[str, Any] = (
            {"current_task": None, "resume_stage": None, "branch": None} if at_it else {}
        )
        await self.journal.change(self.state.status, **moved_on)
        body = {
            "taskId": skip.task_id,
            "reason": skip.reason,
            "skippedAt": skip.skipped_at,
            "state": self.state.to_wire(),
        }
        self._value(command.reply, body)

    async def _unskip(self, command: UnskipTask) -> None:
        self._check_idle("skip")
        if not await self.deps.store.skips.remove(self.customer_id, command.task_id):
            raise NotFoundError(
                f"task {command.task_id} is not skipped",
                code="skip_not_found",
                task_id=command.task_id,
            )
        self.journal.log("info", f"task {command.task_id} is no longer skipped")
        self._value(command.reply, {"taskId": command.task_id, "state": self.state.to_wire()})

    def _check_skippable(self, task_id: str) -> None:
        """Refuse an id the task list (as last read, if it was) does not hold, or a group.

        Nothing is read for it: a skip must work while the remote is down, and SELECT passes
        over a skipped id it does not know.
        """
        task_list = self._task_lists.last
        if task_list is None:
            return
        task = task_list.get(task_id)
        if task is None and not task_list.knows(task_id):
            raise NotFoundError(
                f"task {task_id} is not in the task list", code="task_not_found", task_id=task_id
            )
        if task is None or task.type != "atomic":
            kind = task.type if task is not None else "a group or phase"
            raise InvalidInputError(
                f"task {task_id} is {kind}; only atomic tasks are skipped", field="taskId"
            )

    def _launch_run(self, resume: ResumePoint | None) -> None:
        assert self._nursery is not None
        self._run_scope = trio.CancelScope()
        self._nursery.start_soon(self._run_autopilot, self._run_scope, resume)

    async def _run_autopilot(self, scope: trio.CancelScope, resume: ResumePoint | None) -> None:
        """Drive the run, then persist how it ended (the actor counts as running until then)."""
        result = RunOutcome(Status.STOPPED, resume=resume)
        hooks = RunHooks(self.journal)
        with structlog.contextvars.bound_contextvars(run_id=self.state.run_id):
            try:
                try:
                    with scope:
                        ctx = await self._context()
                        result = await drive(
                            self.deps.stages,
                            ctx,
                            hooks,
                            tool=self.state.tool,
                            resume=resume,
                            max_attempts=self._max_attempts(ctx),
                        )
                except RunnerError as exc:  # e.g. the disk filled up: known, no traceback
                    result = self._crashed(exc)
                except Exception as exc:
                    log.exception("run_crashed")
                    result = self._crashed(exc)
                if scope.cancelled_caught:
                    result = RunOutcome(Status.STOPPED, resume=self._point_now())
                    with trio.move_on_after(_CLEANUP_GRACE_S, shield=True):
                        await self._cleanup_after_stop()
                with trio.move_on_after(_CLEANUP_GRACE_S, shield=True) as grace:
                    await self._close_stage(hooks, result)
                    await self._finish_run(result, until_saved=True)
                if grace.cancelled_caught:  # the disk stays full: keep trying (unshielded)
                    await self._finish_run(result, until_saved=True)
            finally:
                self._run_scope = None

    def _crashed(self, exc: Exception) -> RunOutcome:
        code = exc.code if isinstance(exc, RunnerError) else "internal"
        stage = next((k for k, v in STAGE_STATUS.items() if v == self.state.status), "run")
        error = {
            "stage": stage,
            "code": code,
            "message": self.deps.redactor(str(exc)) or "internal error",
            "details": {},
        }
        return RunOutcome(Status.FAILED, error=error, resume=self._point_now())

    async def _close_stage(self, hooks: RunHooks, result: RunOutcome) -> None:
        """Record the stage a stop or a crash cut short (a failed stage closed itself)."""
        try:
            if result.status == Status.STOPPED:
                await hooks.stage_finished("stopped", {})
            elif result.error is not None:
                await hooks.stage_finished("failed", result.error)
        except RunnerError as exc:  # the run's own end matters more than its audit row
            log.error("stage_not_recorded", code=exc.code, message=exc.message)

    def _point_now(self) -> ResumePoint | None:
        stage = next((k for k, v in STAGE_STATUS.items() if v == self.state.status), None)
        if self.state.current_task is None or stage in (None, "select"):
            return None
        assert stage is not None
        return ResumePoint(self.state.current_task, stage, self.state.branch)

    async def _cleanup_after_stop(self) -> None:
        ctx = await self._context()
        await self.deps.stages.reset(ctx)

    async def _finish_run(self, result: RunOutcome, *, until_saved: bool = False) -> None:
        """Persist the run's end; ``until_saved``: while the disk is full, retry with backoff."""
        resume = result.resume
        self.state.resume_stage = resume.stage if resume is not None else None
        if resume is not None:
            self.state.current_task, self.state.branch = resume.task_id, resume.branch
        self.state.error = self.deps.redactor.value(result.error)
        self.state.pause_requested = False
        if result.status == Status.DONE:
            self.state.current_task, self.state.progress = None, 100.0
        await self._until_saved(until_saved, self.journal.change, result.status)
        if result.status in TERMINAL_STATUSES:
            self.deps.metrics.run_finished(result.status)
        if result.status == Status.FAILED and result.error is not None:
            error = self.state.error or {}
            log.error(
                "run_failed",
                code=error.get("code"),
                stage=error.get("stage"),
                message=error.get("message"),
                task_id=self.state.current_task,
                customer_id=self.customer_id,
                run_id=self.state.run_id,
                request_id=self._run_request_id,
            )
        if self.state.run_id is not None:
            now = self._now()
            await self._until_saved(
                until_saved,
                functools.partial(
                    self.deps.store.runs.update,
                    self.state.run_id,
                    status=result.status,
                    current_task=self.state.current_task,
                    error=self.state.error,
                    updated_at=now,
                    finished_at=None if result.status == Status.PAUSED else now,
                ),
            )

    async def _until_saved(
        self, retry: bool, write: Callable[..., Awaitable[object]], *args: Any
    ) -> None:
        """Await ``write(*args)``; with ``retry``, again while it fails for lack of space."""
        delay = _SAVE_RETRY_S
        while True:
            try:
                await write(*args)
                return
            except InsufficientStorageError as exc:
                if not retry:
                    raise
                log.error("not_saved", code=exc.code, message=exc.message, retry_in_s=delay)
            await trio.sleep(delay)
            delay = min(2 * delay, _SAVE_RETRY_MAX_S)

    # -- manual stages -------------------------------------------------------------------

    def _queue_stage(self, command: ManualStage) -> None:
        if self._running() and isinstance(command, ReadTaskList):  # the run holds the workspace:
            self._value(command.reply, self._task_lists.last)  # the list it read last
            return
        if self._running():
            raise ConflictError(
                f"an automated run is in progress ({self.state.status}); pause or stop it first",
                code="customer_busy",
            )
        self._manual.append(command)
        self._start_next_manual()

    def _start_next_manual(self) -> None:
        if self._manual_running or not self._manual:
            return
        assert self._nursery is not None
        self._manual_running = True
        self._nursery.start_soon(self._run_manual, self._manual.popleft())

    async def _run_manual(self, command: ManualStage) -> None:
        """Run one manual stage; reply once the state that ends it is persisted.

        The stage's status is persisted beside its first steps, not before them: the stage
        reads none of it. Its result record and the state that ends it are one transaction.
        A run waiting to be resumed keeps its place: the stage shows its own task only while
        it runs.
        """
        resting = self.state.status
        keep = self._resume_place() if resting in allowed_from("resume") else {}
        changes = isinstance(command, (RunPrep, RunImplement, RunVerify))
        steps: list[StepRecord] = []
        announced: Persisting | None = None
        result: outcome.Outcome[Any] = outcome.Error(RunnerError("internal error", code="internal"))
        try:
            ctx = await self._context(keep_step=steps.append if changes else None)
            if isinstance(command, (RunPrep, RunImplement, RunVerify)):
                announced = self._announce(command)
            value = await self._call_stage(ctx, command)
            if announced is not None:
                await announced.wait()
            result = outcome.Value(value)
        except RunnerError as exc:
            result = outcome.Error(exc)
        except Exception:
            log.exception("stage_crashed", command=type(command).__name__)
        finally:
            unsaved = False
            if changes:
                with trio.move_on_after(_CLEANUP_GRACE_S, shield=True):
                    if announced is not None:
                        await announced.done.wait()
                    try:
                        await self.journal.change(resting, steps=steps, **keep)
                    except RunnerError as exc:  # e.g. a full disk: answer now, save later
                        result, unsaved = outcome.Error(exc), True
            self._reply(command.reply, result)
            if unsaved:  # the customer stays busy until its resting state is saved
                rest = functools.partial(self.journal.change, resting, steps=steps, **keep)
                await self._until_saved(True, rest)
            self._manual_running = False
            self._start_next_manual()

    def _resume_place(self) -> dict[str, Any]:
        """The fields a resume reads, as the run left them."""
        return {"current_task": self.state.current_task, "branch": self.state.branch}

    def _announce(self, command: WorkspaceStage) -> Persisting:
        """Show the stage and its task in the state (persisted while the stage starts)."""
        assert self._nursery is not None
        self.state.current_task = command.request.task_id
        return self.journal.change_soon(self._nursery, STAGE_STATUS[command.stage])

    async def _call_stage(self, ctx: StageContext, command: ManualStage) -> Any:
        stages = self.deps.stages
        match command:
            case RunSelect():
                return await stages.select(ctx, exclude_completed=command.exclude_completed)
            case ReadTaskList():  # the task list as SELECT reads it (the memo keeps it)
                await stages.select(ctx)
                return self._task_lists.last
            case RunPrep():
                prep = await stages.prep(ctx, command.request)
                self.state.branch, self.state.repo_path = prep.branch, prep.repo_path
                return prep
            case RunImplement():
                return await stages.implement(ctx, command.request)
            case RunVerify():
                return await stages.verify(ctx, command.request)

    # -- state, events, logs -------------------------------------------------------------

    async def _context(self, keep_step: StepSink | None = None) -> StageContext:
        customer = await self.deps.store.customers.get(self.customer_id)
        if customer is None:
            raise NotFoundError(
                f"customer {self.customer_id!r} is not registered", code="customer_not_found"
            )
        return StageContext(
            settings=self.deps.settings,
            customer=customer,
            store=self.deps.store,
            slots=self.deps.slots,
            redactor=self.deps.redactor,
            log=self.journal.log,
            now=self.deps.now,
            keep_step=keep_step,
            task_lists=self._task_lists,
            metrics=self.deps.metrics,
        )

    def _now(self) -> str:
        return self.journal.now()

    def _max_attempts(self, ctx: StageContext) -> int:
        """The run's ``maxAttempts``, else the customer's, else the default (3)."""
        configured = ctx.customer.settings.get("maxAttempts")
        chosen = self.state.max_attempts or configured or DEFAULT_MAX_ATTEMPTS
        self.state.max_attempts = int(chosen)
        return int(chosen)
