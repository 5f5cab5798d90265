"""The registry: customer id -> actor; owns the nursery every actor runs in (one-for-one).

Alone on its database (SQLite) the registry runs every customer. Where instances share a
database (:class:`Cluster`) it runs a customer only while it holds the customer's lease:
a command for a customer claims it when it is free, and raises :class:`OwnedElsewhere`
(the HTTP layer forwards the request) when another live instance holds it; every write of
an actor is fenced by its lease; a lost lease ends the actor (its tools are killed with
it); customers whose owner died mid-run are adopted, as many as this instance has free job
slots, and their runs resumed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from runner.actors.bus import UPDATE, Event
from runner.actors.customer import CustomerActor
from runner.actors.deps import ActorDeps
from runner.actors.messages import GetState, Resume
from runner.actors.ownership import LeaseKeeper, end_dead_lives
from runner.actors.relay import Relay
from runner.actors.state import ACTIVE, ExecutionState, Status
from runner.clock import iso_utc
from runner.errors import OwnedElsewhere, OwnerUnavailableError, RunnerError
from runner.store import UNFINISHED, Lease, NewEvent, Notifications, StateSnapshot, fenced

if TYPE_CHECKING:
    from pathlib import Path

    from runner.actors.messages import Command, Reply

__all__ = ["Cluster", "Registry"]

log = structlog.get_logger(__name__)

_RESUME_STAGE = {
    Status.PREPARING: "prep",
    Status.IMPLEMENTING: "implement",
    Status.VERIFYING: "verify",
    Status.COMPLETING: "complete",
}


@attrs.frozen
class Cluster:
    """How this instance shares its database with others."""

    instance_id: str
    url: str | None
    """Where other instances forward this instance's customers' requests."""
    ttl_s: float
    """How long a customer's lease lasts unless renewed (``LEASE_TTL_S``)."""
    listen: Callable[[str], AbstractAsyncContextManager[Notifications]]
    """Opens a LISTEN connection (``PostgresStore.listen``)."""
    adopt_every_s: float = 0.5
    """How often customers whose owner is gone are looked for (and dead instances)."""


@attrs.define(eq=False)
class Registry:
    """Creates actors on demand and restarts a crashed one on the next command."""

    deps: ActorDeps
    cluster: Cluster | None = None
    _actors: dict[str, CustomerActor] = attrs.field(factory=dict)
    _saved: dict[str, ExecutionState] = attrs.field(factory=dict)
    _nursery: trio.Nursery | None = None
    _keeper: LeaseKeeper | None = None
    relay: Relay | None = None
    _claim_lock: trio.Lock = attrs.field(factory=trio.Lock)
    adopted: int = 0
    """Customers taken over with a run to resume (for tests and metrics)."""

    async def run(
        self, *, task_status: trio.TaskStatus[Registry] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Recover persisted state, then host actors until cancelled."""
        cluster = self.cluster
        if cluster is None:
            await self._recover()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started(self)
                await trio.sleep_forever()
        store = self.deps.store
        self._keeper = LeaseKeeper(store.leases, cluster.instance_id, cluster.ttl_s, self._lost)
        self.relay = Relay(store, self.deps.bus, cluster.listen, self.owns)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self._keeper.run)
            await nursery.start(self.relay.run)
            nursery.start_soon(self._adopt_forever, cluster)
            task_status.started(self)
            await trio.sleep_forever()

    @property
    def instance_id(self) -> str | None:
        """This instance's id where instances share the database."""
        return self.cluster.instance_id if self.cluster is not None else None

    def owns(self, customer_id: str) -> bool:
        """Whether this instance runs the customer now (always, alone on its database)."""
        return self._keeper is None or self._keeper.held(customer_id) is not None

    async def _recover(self) -> None:
        """Load saved states; a run the previous process left active becomes FAILED."""
        store = self.deps.store
        now = iso_utc(self.deps.now())
        await store.runs.mark_interrupted(now)
        for customer_id, record in (await store.customers.load_all_states()).items():
            state = ExecutionState.from_record(record)
            if state.status in ACTIVE:
                await self._interrupt(customer_id, state, "the service restarted during this run")
            self._saved[customer_id] = state

    async def _interrupt(self, customer_id: str, state: ExecutionState, why: str) -> None:
        """Fail a run whose process is gone (persisted, announced); it resumes from its stage."""
        store = self.deps.store
        now = iso_utc(self.deps.now())
        state.error = {
            "stage": state.status.lower(),
            "code": "interrupted",
            "message": f"{why}; resume to continue",
        }
        stage = _RESUME_STAGE.get(state.status)
        state.resume_stage = stage if state.current_task is not None else None
        state.status = Status.FAILED
        state.pause_requested = False
        state.last_update = now
        frame = self.deps.redactor.value(state.update_frame())
        (record,) = await store.events.append_many(
            [NewEvent(customer_id, state.run_id, UPDATE, frame, now)],
            state=StateSnapshot(customer_id, state.to_record(), now),
        )
        self.deps.bus.publish(Event(customer_id, record.seq, UPDATE, frame, record.text))

    def actor(self, customer_id: str) -> CustomerActor:
        """Return the customer's actor, starting it if needed (alone on the database)."""
        assert self._keeper is None, "with a cluster, actors start through ask()"
        existing = self._actors.get(customer_id)
        if existing is not None:
            return existing
        state = self._saved.pop(customer_id, None) or ExecutionState(customer_id=customer_id)
        return self._start(state, None)

    def _start(self, state: ExecutionState, lease: Lease | None) -> CustomerActor:
        assert self._nursery is not None, "Registry.run() has not started"
        actor = CustomerActor(customer_id=state.customer_id, deps=self.deps, state=state)
        self._actors[state.customer_id] = actor
        self._nursery.start_soon(self._supervise, actor, lease)
        return actor

    async def ask(self, customer_id: str, make: Callable[[Reply], Command]) -> Any:
        """Send a command to the customer's actor and await the reply.

        Raises:
            OwnedElsewhere: another live instance runs the customer (forward the request).
            OwnerUnavailableError: the customer is between owners for a moment.
        """
        return await (await self._owned_actor(customer_id)).ask(make)

    async def state(self, customer_id: str) -> dict[str, Any]:
        """The customer's execution state on the wire: its actor's, or as last saved by
        the instance that runs it (read from the database, never forwarded)."""
        if self._keeper is None:
            return dict(await self.ask(customer_id, GetState))
        actor = self._actors.get(customer_id)
        if actor is not None and self.owns(customer_id):
            return actor.state.to_wire()
        return (await self._stored_state(customer_id)).to_wire()

    async def _stored_state(self, customer_id: str) -> ExecutionState:
        """The customer's state as last saved (a fresh one if it has none)."""
        record = await self.deps.store.customers.load_state(customer_id)
        if record is None:
            return ExecutionState(customer_id=customer_id)
        return ExecutionState.from_record(record)

    async def owner(self, customer_id: str) -> Lease | None:
        """The instance running the customer (with its URL), if any holds it now."""
        if self.cluster is None:
            return None
        return await self.deps.store.leases.holder(customer_id)

    async def _owned_actor(self, customer_id: str) -> CustomerActor:
        keeper = self._keeper
        if keeper is None:
            return self.actor(customer_id)
        async with self._claim_lock:
            held = keeper.held(customer_id)
            if held is not None:
                return self._actors.get(customer_id) or await self._restart(held)
            taken = await keeper.claim(customer_id)
            if taken:
                return await self._take_over(taken[0])
            holder = await self.deps.store.leases.holder(customer_id)
        if holder is not None and holder.owner != keeper.owner:
            raise OwnedElsewhere(customer_id, holder.owner, holder.owner_url)
        raise OwnerUnavailableError(
            f"customer {customer_id} is changing instances; retry in a moment",
            lease_ttl_s=keeper.ttl_s,
        )

    async def _take_over(self, lease: Lease) -> CustomerActor:
        """Start the actor of a customer just claimed, from its saved state.

        The old owner's last events are published first (no gap for this instance's
        WebSocket clients). A run its old owner left inside a stage is failed as
        interrupted and resumed here (the workspace is cloned again by PREP).
        """
        customer_id = lease.customer_id
        old = self._actors.pop(customer_id, None)
        if old is not None:  # an actor of an earlier lease of ours: it is over
            old.close()
        assert self.relay is not None
        await self.relay.catch_up(customer_id)
        with fenced(lease):
            state = await self._stored_state(customer_id)
            interrupted = state.status in ACTIVE
            if interrupted:
                await self.deps.store.runs.mark_interrupted(iso_utc(self.deps.now()), customer_id)
                await self._interrupt(customer_id, state, "the instance running it stopped")
        actor = self._start(state, lease)
        log.info("customer_taken_over", customer_id=customer_id, token=lease.token)
        if interrupted and state.run_id is not None:
            assert self._nursery is not None
            self._nursery.start_soon(self._resume_adopted, actor)
        return actor

    async def _restart(self, lease: Lease) -> CustomerActor:
        """Start a held customer's actor again (its last one crashed)."""
        state = self._saved.pop(lease.customer_id, None)
        return self._start(state or await self._stored_state(lease.customer_id), lease)

    async def _resume_adopted(self, actor: CustomerActor) -> None:
        try:
            await actor.ask(lambda reply: Resume(reply))
            self.adopted += 1
            log.info("run_resumed_after_takeover", customer_id=actor.customer_id)
        except RunnerError as exc:
            log.warning(
                "takeover_resume_refused",
                customer_id=actor.customer_id,
                code=exc.code,
                message=exc.message,
            )

    def _lost(self, customer_id: str) -> None:
        """The lease is gone: end the actor now (its tools are killed), record nothing."""
        actor = self._actors.pop(customer_id, None)
        if actor is not None:
            actor.close()

    async def _adopt_forever(self, cluster: Cluster) -> None:
        """Take over customers left mid-run by an owner that is gone, and resume them."""
        while True:
            try:
                await self._adopt(cluster)  # first: the customers wait, the dead do not
                await end_dead_lives(self.deps.store, cluster.ttl_s, cluster.instance_id)
            except RunnerError as exc:
                log.warning("adoption_failed", code=exc.code, message=exc.message)
            await trio.sleep(min(cluster.adopt_every_s, cluster.ttl_s / 8))

    async def _adopt(self, cluster: Cluster) -> None:
        """Claim this instance's share of the orphans, balanced by active jobs.

        The runs in progress (the owned ones and the orphans) are shared evenly by the
        instances seen lately; each claims what brings it to its share, and always
        one at least, so that orphans never wait on an instance that does not claim.
        """
        assert self._keeper is not None
        store = self.deps.store
        orphans, owners = await store.leases.unfinished(UNFINISHED)
        if not orphans:
            return
        # Beating every third of a TTL, a live instance was seen within half of one; the
        # owner of a lease that just expired was last seen a whole TTL ago.
        live = len(await store.leases.instances(seen_within_s=cluster.ttl_s / 2)) or 1
        share = math.ceil((orphans + sum(owners.values())) / live)
        limit = max(1, share - owners.get(cluster.instance_id, 0))
        async with self._claim_lock:
            for lease in await self._keeper.claim(limit=limit, unfinished=UNFINISHED):
                await self._take_over(lease)

    async def _supervise(self, actor: CustomerActor, lease: Lease | None) -> None:
        with fenced(lease):
            try:
                await actor.run()
            except Exception:  # one-for-one isolation: a crash affects only this customer
                if self._actors.get(actor.customer_id) is not actor:  # its lease was lost
                    log.info("actor_ended_with_its_lease", customer_id=actor.customer_id)
                    return
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
