"""The registry: customer id -> actor; owns the nursery every actor runs in (one-for-one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from runner.actors.bus import UPDATE
from runner.actors.customer import CustomerActor
from runner.actors.deps import ActorDeps
from runner.actors.state import ACTIVE, ExecutionState, Status
from runner.clock import iso_utc

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from runner.actors.messages import Command, Reply

__all__ = ["Registry"]

log = structlog.get_logger(__name__)

_RESUME_STAGE = {
    Status.PREPARING: "prep",
    Status.IMPLEMENTING: "implement",
    Status.VERIFYING: "verify",
    Status.COMPLETING: "complete",
}


@attrs.define(eq=False)
class Registry:
    """Creates actors on demand and restarts a crashed one on the next command."""

    deps: ActorDeps
    _actors: dict[str, CustomerActor] = attrs.field(factory=dict)
    _saved: dict[str, ExecutionState] = attrs.field(factory=dict)
    _nursery: trio.Nursery | None = None

    async def run(
        self, *, task_status: trio.TaskStatus[Registry] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Recover persisted state, then host actors until cancelled."""
        await self._recover()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self)
            await trio.sleep_forever()

    async def _recover(self) -> None:
        """Load saved states; a run the previous process left active becomes FAILED."""
        store = self.deps.store
        now = iso_utc(self.deps.now())
        await store.runs.mark_interrupted(now)
        for customer_id, record in (await store.customers.load_all_states()).items():
            state = ExecutionState.from_record(record)
            if state.status in ACTIVE:
                state.error = {
                    "stage": state.status.lower(),
                    "code": "interrupted",
                    "message": "the service restarted during this run; resume to continue",
                }
                stage = _RESUME_STAGE.get(state.status)
                state.resume_stage = stage if state.current_task is not None else None
                state.status = Status.FAILED
                state.pause_requested = False
                state.last_update = now
                await store.customers.save_state(customer_id, state.to_record(), now)
                frame = self.deps.redactor.value(state.update_frame())
                await store.events.append(customer_id, state.run_id, UPDATE, frame, now)
            self._saved[customer_id] = state

    def actor(self, customer_id: str) -> CustomerActor:
        """Return the customer's actor, starting it if needed."""
        existing = self._actors.get(customer_id)
        if existing is not None:
            return existing
        assert self._nursery is not None, "Registry.run() has not started"
        state = self._saved.pop(customer_id, None) or ExecutionState(customer_id=customer_id)
        actor = CustomerActor(customer_id=customer_id, deps=self.deps, state=state)
        self._actors[customer_id] = actor
        self._nursery.start_soon(self._supervise, actor)
        return actor

    async def ask(self, customer_id: str, make: Callable[[Reply], Command]) -> Any:
        """Send a command to the customer's actor and await the reply."""
        return await self.actor(customer_id).ask(make)

    async def _supervise(self, actor: CustomerActor) -> None:
        try:
            await actor.run()
        except Exception:  # one-for-one isolation boundary: a crash affects only this customer
            log.exception("actor_crashed", customer_id=actor.customer_id)
            state = actor.state
            state.status = Status.FAILED
            state.error = {"stage": "actor", "code": "internal", "message": "internal error"}
            # Before any checkpoint: the next command must find a fresh actor with this state.
            self._forget(actor)
            self._saved[actor.customer_id] = state
            await self._persist_crash(actor.customer_id, state)
        finally:
            self._forget(actor)

    async def _persist_crash(self, customer_id: str, state: ExecutionState) -> None:
        """Save the FAILED state; a store that fails too must not take the registry down."""
        now = iso_utc(self.deps.now())
        try:
            with trio.move_on_after(10, shield=True):
                await self.deps.store.customers.save_state(customer_id, state.to_record(), now)
        except Exception:  # isolation boundary, as above: log and keep serving others
            log.exception("crash_state_not_saved", customer_id=customer_id)

    def retire(self, customer_id: str) -> bool:
        """Close and forget the customer's actor and saved state unless a stage is running.

        Returns:
            False (and nothing changed) when the customer is busy.
        """
        actor = self._actors.get(customer_id)
        if actor is not None and actor.busy:
            return False
        self._saved.pop(customer_id, None)
        if actor is not None:
            self._forget(actor)
            actor.close()
        return True

    def _forget(self, actor: CustomerActor) -> None:
        if self._actors.get(actor.customer_id) is actor:
            del self._actors[actor.customer_id]

    def busy_workspaces(self) -> set[Path]:
        """Return the workspaces of customers with a stage running (the janitor skips them)."""
        root = self.deps.settings.workspace_dir.absolute()
        busy: set[Path] = set()
        for customer_id, actor in self._actors.items():
            if actor.busy and (root / customer_id).is_dir():
                busy.update(p for p in (root / customer_id).iterdir() if p.is_dir())
        return busy

    def states(self) -> dict[str, dict[str, Any]]:
        """Return the wire state of every known customer (live actors and saved ones)."""
        out = {cid: s.to_wire() for cid, s in self._saved.items()}
        out.update({cid: a.state.to_wire() for cid, a in self._actors.items()})
        return out
