"""A customer's journal: every state change and log line, persisted, then published.

The actor owns the state; the journal turns a change of it into one transaction (the state,
the log lines queued before it, its ``execution-update`` event, and any stage results), then
publishes the events in ``seq`` order. Stage log lines are redacted and batched: the flusher
publishes them within :data:`LOG_BATCH_WINDOW_S` of the first queued line, while the stage
runs, whatever state changes happen meanwhile.

Emits are published in the order their frames were taken (each waits for the one before it),
so a log line taken by the flusher never overtakes, nor is overtaken by, an update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from runner.actors.bus import LOG, UPDATE, Event
from runner.actors.deps import ActorDeps
from runner.actors.state import STAGE_FRACTION, ExecutionState, Status
from runner.clock import iso_utc
from runner.errors import RunnerError
from runner.store import NewEvent, StateSnapshot

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runner.store import RunRecord, StepRecord

__all__ = ["LOG_BATCH_WINDOW_S", "Journal", "Persisting"]

log = structlog.get_logger(__name__)

_KEPT_LOG_LINES = 50
LOG_BATCH_WINDOW_S = 0.05
"""How long the flusher gathers a burst of tool output lines into one ``execution-log``."""

Frames = list[tuple[str, dict[str, Any]]]


def _done_event() -> trio.Event:
    event = trio.Event()
    event.set()
    return event


@attrs.define(eq=False)
class Persisting:
    """A state change being persisted in the background (see :meth:`Journal.change_soon`)."""

    done: trio.Event = attrs.Factory(trio.Event)
    error: Exception | None = None

    async def wait(self) -> None:
        """Wait until it is persisted; raise what persisting raised."""
        await self.done.wait()
        if self.error is not None:
            raise self.error


@attrs.define(eq=False)
class Journal:
    """Persists and publishes one customer's state changes and log lines."""

    customer_id: str
    deps: ActorDeps
    state: ExecutionState
    _pending_logs: list[tuple[str, str, str | None]] = attrs.field(factory=list)
    # Set by log(), cleared (replaced) only by the flusher itself: whoever else takes the
    # pending lines (a state change) must not replace it, or the flusher would keep waiting
    # on an event nobody sets any more.
    _logs_waiting: trio.Event = attrs.field(factory=trio.Event)
    # Set when the latest emit has published; the next emit waits for it (order of taking).
    _last_emit: trio.Event = attrs.field(factory=_done_event)
    _unsent: Frames = attrs.field(factory=list)

    def now(self) -> str:
        """The current time as the state and events write it."""
        return iso_utc(self.deps.now())

    async def change(
        self,
        status: str,
        *,
        steps: Sequence[StepRecord] = (),
        new_run: RunRecord | None = None,
        **fields: Any,
    ) -> None:
        """Set the status (and fields), persist the state, then publish an update.

        Logs queued before the change go out first, so a stage's logs precede the update
        that ends it; the state, those logs, the update, ``steps`` and ``new_run`` are one
        transaction. If it fails, the state in memory is as it was (the taken log lines
        are put back): a change and its answer are one transaction or none.
        """
        before = attrs.evolve(self.state)
        pending, unsent = list(self._pending_logs), list(self._unsent)
        frames, snapshot = self._apply(status, **fields)
        try:
            await self.emit(frames, snapshot, steps=steps, new_run=new_run)
        except RunnerError:
            for field in attrs.fields(ExecutionState):
                setattr(self.state, field.name, getattr(before, field.name))
            self._pending_logs[:0] = pending
            self._unsent[:0] = unsent
            if pending:
                self._logs_waiting.set()  # the flusher tries them again
            raise
        self.deps.metrics.status_changed(self.customer_id, status)

    def change_soon(self, nursery: trio.Nursery, status: str) -> Persisting:
        """Like :meth:`change`, persisting in a task of ``nursery``; wait on the result."""
        frames, snapshot = self._apply(status)
        turn = self._take_turn()
        persisting = Persisting()

        async def persist() -> None:
            try:
                await self._emit_in_turn(turn, frames, snapshot)
            except Exception as exc:  # noqa: BLE001  # raised again to whoever waits on it
                persisting.error = exc
                return
            finally:
                persisting.done.set()
            self.deps.metrics.status_changed(self.customer_id, status)

        nursery.start_soon(persist)
        return persisting

    def _apply(self, status: str, **fields: Any) -> tuple[Frames, StateSnapshot]:
        """Change the state in memory; return the frames and the snapshot to persist."""
        for name, value in fields.items():
            setattr(self.state, name, value)
        self.state.status = status
        if status not in (Status.DONE,):
            self.state.progress = self._progress()
        self.state.last_update = self.now()
        frames = [*self._take_pending_logs(), (UPDATE, self.state.update_frame())]
        snapshot = StateSnapshot(self.customer_id, self.state.to_record(), self.state.last_update)
        return frames, snapshot

    def _progress(self) -> float:
        s = self.state
        if not s.total_tasks:
            return s.progress
        fraction = STAGE_FRACTION.get(s.status, 0.0) if s.current_task else 0.0
        return round(min(100.0, 100.0 * (s.completed_tasks + fraction) / s.total_tasks), 1)

    async def emit(
        self,
        frames: Frames,
        state: StateSnapshot | None = None,
        *,
        steps: Sequence[StepRecord] = (),
        new_run: RunRecord | None = None,
    ) -> None:
        """Persist ``frames`` (and ``state``, ``steps``, ``new_run``) in one transaction,
        then publish them.

        Call it with no checkpoint between taking the frames and the call: its turn to
        publish is taken at once.
        """
        await self._emit_in_turn(self._take_turn(), frames, state, steps=steps, new_run=new_run)

    def _take_turn(self) -> tuple[trio.Event, trio.Event]:
        """Return (the previous emit's done event, this emit's), reserving the next turn."""
        previous, self._last_emit = self._last_emit, trio.Event()
        return previous, self._last_emit

    async def _emit_in_turn(
        self,
        turn: tuple[trio.Event, trio.Event],
        frames: Frames,
        state: StateSnapshot | None = None,
        *,
        steps: Sequence[StepRecord] = (),
        new_run: RunRecord | None = None,
    ) -> None:
        previous, done = turn
        try:
            # Shielded: the emits before this one are store writes, which always complete;
            # giving up the turn here would let later events publish before these.
            with trio.CancelScope(shield=True):
                await previous.wait()
            await self._persist_and_publish(frames, state, steps, new_run)
        finally:
            done.set()

    async def _persist_and_publish(
        self,
        frames: Frames,
        state: StateSnapshot | None,
        steps: Sequence[StepRecord],
        new_run: RunRecord | None,
    ) -> None:
        # Redacted once: a log frame's lines were redacted by log(); an update carries
        # state fields set from many places, so it is redacted here. Encoded once: the
        # stored row's JSON is the WebSocket frame's, with the seq spliced in.
        redactor = self.deps.redactor
        redacted = [(kind, frame if kind == LOG else redactor.value(frame))
                    for kind, frame in frames]  # fmt: skip
        records = await self.deps.store.events.append_many(
            [
                NewEvent(self.customer_id, self.state.run_id, kind, frame, frame["timestamp"])
                for kind, frame in redacted
            ],
            state=state,
            steps=steps,
            new_run=new_run,
        )
        for (kind, frame), record in zip(redacted, records, strict=True):
            frame["seq"] = record.seq
            self.deps.bus.publish(Event(self.customer_id, record.seq, kind, frame, record.text))

    def log(self, level: str, message: str) -> None:
        """Queue a stage log line; lines are redacted and batched into ``execution-log`` events."""
        self._pending_logs.append((level, self.deps.redactor(message), self.state.current_task))
        self._logs_waiting.set()

    async def flush_logs(self) -> None:
        """Publish queued log lines in batches, until cancelled.

        Lines a state change took meanwhile went out with its update; the flusher then
        finds nothing to publish and waits again.
        """
        while True:
            await self._logs_waiting.wait()
            await trio.sleep(LOG_BATCH_WINDOW_S)  # batch bursts of tool output lines
            self._logs_waiting = trio.Event()  # lines queued from here on wake the next round
            frames = self._take_pending_logs()
            if not frames:
                continue
            try:
                with trio.CancelScope(shield=True):
                    await self.emit(frames)
            except RunnerError as exc:  # e.g. a full disk: keep them for the next emit
                self._unsent[:0] = frames
                log.error("logs_not_saved", code=exc.code, message=exc.message)

    def _take_pending_logs(self) -> Frames:
        """Turn the queued log lines into frames, one per level and task (after any frames
        a failed write left unsent)."""
        pending, self._pending_logs = self._pending_logs, []
        frames, self._unsent = self._unsent, []
        for (level, task_id), lines in _group_logs(pending).items():
            self.state.logs = [*self.state.logs, *lines][-_KEPT_LOG_LINES:]
            frames.append(
                (
                    LOG,
                    {
                        "type": LOG,
                        "customerId": self.customer_id,
                        "taskId": task_id,
                        "level": level,
                        "message": "\n".join(lines),
                        "timestamp": self.now(),
                        "runId": self.state.run_id,
                    },
                )
            )
        return frames


def _group_logs(
    pending: list[tuple[str, str, str | None]],
) -> dict[tuple[str, str | None], list[str]]:
    grouped: dict[tuple[str, str | None], list[str]] = {}
    for level, message, task_id in pending:
        grouped.setdefault((level, task_id), []).append(message)
    return grouped
