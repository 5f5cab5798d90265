"""The relay: other instances' events, published on this instance's bus.

Where several instances share a PostgreSQL database, a customer's events are appended by
the instance that owns it, and a WebSocket client may be connected to any instance. Each
append announces ``<customer id>:<last seq>`` on a channel (NOTIFY, sent when the
transaction commits); the relay LISTENs, reads the events after the last ``seq`` its bus
published for that customer from the table (the source of truth: a notification carries no
event and is lost while nobody listens) and publishes them in order. It also polls every
customer's last ``seq`` as a safety net, and after every (re)connection of its listener, so
a notification missed while the connection was down costs a delay, never an event.

Customers this instance owns are published by their actors; the relay skips them. When
this instance takes a customer over, :meth:`Relay.catch_up` first publishes what the old
owner appended, so the new owner's events follow them without a gap.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import structlog
import trio

from runner.actors.bus import Event
from runner.errors import RunnerError
from runner.store import CHANNEL

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

    from runner.actors.bus import EventBus
    from runner.store import Notifications, Store

__all__ = ["Relay"]

log = structlog.get_logger(__name__)

_BATCH = 500
_RETRY_S = (0.1, 0.5, 1.0, 2.0)


class Relay:
    """Publishes events appended by other instances on the local bus.

    Args:
        store: The shared store (the events table).
        bus: This instance's bus.
        listen: Opens a LISTEN connection on a channel (``PostgresStore.listen``).
        owns: Whether this instance runs a customer (its actor publishes its events).
        poll_s: How often every customer's last ``seq`` is compared with the bus's.
    """

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        listen: Callable[[str], AbstractAsyncContextManager[Notifications]],
        owns: Callable[[str], bool],
        poll_s: float = 1.0,
    ) -> None:
        self._store = store
        self._bus = bus
        self._listen = listen
        self._owns = owns
        self.poll_s = poll_s
        self._lock = trio.Lock()
        self.relayed = 0
        """Events published for other instances (for tests and metrics)."""
        self.connections = 0
        """LISTEN connections opened (a reconnect adds one)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start from every customer's current last ``seq``, then relay until cancelled.

        What was appended before the start is not published (clients replay it with
        ``since``); everything after is.
        """
        for customer_id, seq in (await self._store.events.last_seqs()).items():
            self._bus.last_seq.setdefault(customer_id, seq)
        async with trio.open_nursery() as nursery:
            await nursery.start(self._listen_forever)
            nursery.start_soon(self._poll_forever)
            task_status.started()

    async def catch_up(self, customer_id: str) -> int:
        """Publish this customer's events after the bus's last ``seq``; return how many."""
        async with self._lock:
            published = 0
            while True:
                after = self._bus.last_seq.get(customer_id, 0)
                records = await self._store.events.since([customer_id], after, _BATCH)
                for record in records:  # the bus passes over what it published already
                    event = Event(customer_id, record.seq, record.type, record.payload, record.text)
                    published += self._bus.publish(event)
                if len(records) < _BATCH:
                    self.relayed += published
                    return published

    async def sync_all(self) -> None:
        """Catch up every customer (not owned here) whose last ``seq`` is ahead of the bus."""
        for customer_id, seq in (await self._store.events.last_seqs()).items():
            if seq > self._bus.last_seq.get(customer_id, 0) and not self._owns(customer_id):
                await self._catch_up_to(customer_id, seq)

    async def _catch_up_to(self, customer_id: str, seq: int) -> None:
        """Catch up, or with nobody subscribed just move on to ``seq``: a subscriber that
        comes later asks for what it wants to see again (``since``)."""
        if self._bus.subscriber_count:
            await self.catch_up(customer_id)
        elif seq > self._bus.last_seq.get(customer_id, 0):
            self._bus.last_seq[customer_id] = seq

    async def _listen_forever(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        failures = 0
        while True:
            try:
                async with self._listen(CHANNEL) as notifications:
                    self.connections += 1
                    failures = 0
                    task_status.started()
                    task_status = trio.TASK_STATUS_IGNORED
                    await self.sync_all()  # what was appended while nobody listened
                    async for payload in notifications:
                        await self._notified(payload)
            except RunnerError as exc:
                delay = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                failures += 1
                log.warning("relay_listen_lost", code=exc.code, message=exc.message, retry_s=delay)
                task_status.started()  # the poll covers for it meanwhile
                task_status = trio.TASK_STATUS_IGNORED
                await trio.sleep(delay)

    async def _notified(self, payload: str) -> None:
        customer_id, _, seq = payload.rpartition(":")
        try:
            last = int(seq)
        except ValueError:
            log.warning("relay_bad_notification", payload=payload[:100])
            return
        if last > self._bus.last_seq.get(customer_id, -math.inf) and not self._owns(customer_id):
            try:
                await self._catch_up_to(customer_id, last)
            except RunnerError as exc:  # the poll tries again
                log.warning("relay_read_failed", code=exc.code, message=exc.message)

    async def _poll_forever(self) -> None:
        while True:
            await trio.sleep(self.poll_s)
            try:
                await self.sync_all()
            except RunnerError as exc:
                log.warning("relay_poll_failed", code=exc.code, message=exc.message)
