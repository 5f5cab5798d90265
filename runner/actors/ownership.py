"""Ownership: the customers this instance holds (LeaseKeeper), renewed, lost on time.

The store's leases expire by the database's clock; this instance only knows its own. It
counts a lease as held until ``ttl`` after it *sent* the last claim or renewal that
succeeded: the database set the expiry at or after that moment, so the instance gives up
no later than any other instance may take over. A heartbeat renews every held lease in one
statement every ``ttl / 3``. Leases are lost (``on_lost`` is called, once per customer)
when a renewal does not return them, or when the local deadline passes first, whatever the
renewal is doing: a write cannot be cancelled and a vanished database would otherwise hold
the instance in the belief that it still owns its customers.

The registry (:mod:`runner.actors.registry`) runs one where several instances share a
database: an actor exists only while its customer's lease is held here.
"""

from __future__ import annotations

import math
import socket
from typing import TYPE_CHECKING, Protocol

import structlog
import trio

from runner.errors import RunnerError
from runner.process import JobRecord, end_previous_life, start_time

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from runner.store import Lease, ProcessLife, Store

__all__ = ["LeaseKeeper", "LeaseStore", "end_dead_lives"]

log = structlog.get_logger(__name__)

_RELEASE_TIMEOUT_S = 5.0


class LeaseStore(Protocol):
    """The part of :class:`runner.store.Leases` the keeper uses."""

    async def claim(
        self,
        owner: str,
        ttl_s: float,
        *,
        limit: int = 1,
        customer_id: str | None = None,
        unfinished: Sequence[str] = (),
    ) -> list[Lease]:
        """Take free customers."""
        ...

    async def renew(self, owner: str, ttl_s: float) -> list[Lease]:
        """Extend every live lease of ``owner``."""
        ...

    async def release(self, owner: str, customer_ids: Sequence[str] | None = None) -> int:
        """Give leases up."""
        ...


class LeaseKeeper:
    """Claims, renews and releases this instance's leases; reports the ones it loses.

    Args:
        leases: The store's leases.
        owner: This instance's id.
        ttl_s: How long a lease lasts unless renewed (renewed every third of it).
        on_lost: Called with a customer id when its lease is lost (stop its work now).
    """

    def __init__(
        self, leases: LeaseStore, owner: str, ttl_s: float, on_lost: Callable[[str], None]
    ) -> None:
        self._leases = leases
        self.owner = owner
        self.ttl_s = ttl_s
        self._on_lost = on_lost
        self._held: dict[str, Lease] = {}
        self._deadline = -math.inf
        self._deadline_moved = trio.Event()
        self._claiming = 0
        self.renewals = 0
        """Heartbeats that succeeded (for tests and metrics)."""

    def held(self, customer_id: str) -> Lease | None:
        """Return the customer's lease while this instance surely holds it, else None."""
        if trio.current_time() >= self._deadline:
            return None
        return self._held.get(customer_id)

    @property
    def customers(self) -> list[str]:
        """The customers held now, by id."""
        return sorted(c for c in self._held if self.held(c) is not None)

    async def claim(
        self, customer_id: str | None = None, limit: int = 1, unfinished: Sequence[str] = ()
    ) -> list[Lease]:
        """Claim this customer (when free), or up to ``limit`` free customers (with a run
        in one of the ``unfinished`` statuses, when given).

        Raises:
            RunnerError: ``store_error`` when the database cannot be reached.
        """
        sent = trio.current_time()
        self._claiming += 1
        try:
            taken = await self._leases.claim(
                self.owner, self.ttl_s, limit=limit, customer_id=customer_id, unfinished=unfinished
            )
        finally:
            self._claiming -= 1
        if taken:
            if not self._held or self._deadline <= sent:
                # nothing held (or all of it already given up): this claim sets the deadline
                self._move_deadline(sent + self.ttl_s)
            self._held.update((lease.customer_id, lease) for lease in taken)
        return taken

    async def release(self, customer_ids: Sequence[str] | None = None) -> None:
        """Give up these leases (all when None) so that other instances take over at once."""
        released = list(self._held) if customer_ids is None else list(customer_ids)
        for customer_id in released:
            self._held.pop(customer_id, None)
        await self._leases.release(self.owner, customer_ids)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Renew every ``ttl / 3`` and watch the deadline until cancelled; then release all.

        The release on the way out is bounded and shielded: a stopping instance hands its
        customers over at once instead of letting them wait out the TTL.
        """
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_deadline)
                task_status.started()
                await self._heartbeat()
        finally:
            with trio.move_on_after(_RELEASE_TIMEOUT_S, shield=True):
                self._held.clear()
                await self._release_quietly(None)

    async def _release_quietly(self, customer_ids: Sequence[str] | None) -> None:
        """Release in the database; on failure the leases expire by themselves."""
        if customer_ids is not None and not customer_ids:
            return
        try:
            await self._leases.release(self.owner, customer_ids)
        except RunnerError as exc:
            log.warning("lease_release_failed", code=exc.code, message=exc.message)

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(self.ttl_s / 3)
            # Renewed with nothing held too: the beat also says the instance is alive.
            sent = trio.current_time()
            try:
                renewed = await self._leases.renew(self.owner, self.ttl_s)
            except RunnerError as exc:  # try again next beat; the deadline watch decides
                log.warning("lease_renewal_failed", code=exc.code, message=exc.message)
                continue
            if trio.current_time() >= self._deadline:
                # Too late: their work was stopped at the deadline. The database renewed
                # them all the same; hand them back rather than block them for a TTL
                # (unless a claim is on its way: what it took is in ``renewed`` too).
                if not self._claiming:
                    await self._release_quietly([lease.customer_id for lease in renewed])
                continue
            self.renewals += 1
            kept = {lease.customer_id for lease in renewed}
            for customer_id in [c for c in self._held if c not in kept]:
                self._lose(customer_id)
            self._move_deadline(sent + self.ttl_s)

    async def _watch_deadline(self) -> None:
        """At the deadline, give up everything still held (a renewal was too late)."""
        while True:
            moved = self._deadline_moved
            with trio.move_on_at(self._deadline):
                await moved.wait()
                continue  # a renewal or claim moved it: watch the new one
            for customer_id in list(self._held):
                self._lose(customer_id)
            await moved.wait()  # nothing held: wait for the next claim

    def _move_deadline(self, deadline: float) -> None:
        self._deadline = deadline
        moved, self._deadline_moved = self._deadline_moved, trio.Event()
        moved.set()

    def _lose(self, customer_id: str) -> None:
        lease = self._held.pop(customer_id)
        log.warning("lease_lost", customer_id=customer_id, token=lease.token)
        self._on_lost(customer_id)


async def end_dead_lives(store: Store, lease_ttl_s: float | None, me: str | None = None) -> None:
    """End what the lives of the service that are over left behind.

    Alone on its database (``lease_ttl_s`` None, at start-up) every earlier life is over:
    its processes are ended and every in-flight idempotency key was its. Where instances
    share the database, the lives over are those of this host whose process is gone and
    those of instances not seen for two TTLs (``me`` is never one): they are buried.
    """
    if lease_ttl_s is None:
        await _end_lives_of(store, None)
        await store.idempotency.clear_in_flight()
        return
    live = {instance for instance, _ in await store.leases.instances(2 * lease_ttl_s)}
    if me is not None:
        live.add(me)
    await _bury(store, await _end_lives_of(store, live))


async def _end_lives_of(store: Store, alive: Collection[str] | None) -> list[str]:
    """End what lives of the service that are over left running; return those lives' ids.

    Alone on its database (``alive`` None) every recorded life is over. Where instances
    share it, a life on this host is over when its process is gone (a pid reused since does
    not count); one on another host when its instance is not among the ``alive`` (seen
    lately). The processes of this host's lives that are over are killed (a recorded one
    only when its start time matches) and those lives forgotten; another host's are left
    for that host to end.
    """
    lives, rows = await store.processes.left_behind()
    here = socket.gethostname()

    def over(life: ProcessLife) -> bool:
        if alive is None:
            return True
        if life.host == here and life.start_time is not None:
            return bool(start_time(life.pid) != life.start_time)
        return life.instance not in alive

    dead = [life for life in lives if over(life)]
    ours = [life.instance for life in dead if life.host in (here, None)]
    known = {life.instance for life in lives}
    jobs = [
        JobRecord(row.marker, row.pid, row.start_time)
        for row in rows
        if (life := row.marker.partition(":")[0]) in ours or life not in known
    ]
    if ours or jobs:
        killed = await trio.to_thread.run_sync(end_previous_life, jobs, ours)
        await store.processes.forget_lives(ours)
        if killed:
            log.warning("ended_processes_of_previous_life", killed=killed, lives=len(ours))
    return [life.instance for life in dead]


async def _bury(store: Store, dead: Sequence[str]) -> None:
    """Hand on what these instances, gone for good, still hold.

    Their leases are released at once (a process gone from this host writes nothing more;
    another host's instance unseen for two TTLs holds no unexpired lease anyway), their
    in-flight idempotency keys cleared (a retry runs again), their rows deleted.
    """
    if not dead:
        return
    for instance in dead:
        await store.leases.release(instance)
    await store.idempotency.clear_in_flight(dead)
    await store.leases.forget_instances(dead)
    log.warning("dead_instances_buried", instances=len(dead))
