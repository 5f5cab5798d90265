"""The event bus: sync, non-blocking publish; bounded, coalescing per-subscriber queues.

A publisher never waits for a subscriber. A subscriber with a :class:`Transport` (a
WebSocket) gets each event written straight to its socket by the publisher while the socket
takes it at once; only while it would block do events wait in the subscriber's queue.

The queue is bounded (events and bytes). An unread ``execution-update`` is replaced by the
customer's newer one (latest wins, moved to the end so delivery stays in ``seq`` order) when
it only moves the progress, or when the queue is full; a status change is otherwise kept,
so a client that keeps up sees every status. Logs beyond the bound are dropped and later
announced by one ``execution-log`` saying how many (tractor's ``Lagged`` idea).
"""

from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import attrs
import trio
from wsproto.frame_protocol import FrameProtocol

from runner.store import frame_json

__all__ = ["Event", "EventBus", "Subscriber", "Transport", "text_frame"]

UPDATE = "execution-update"
LOG = "execution-log"


def text_frame(text: str) -> bytes:
    """Return ``text`` as one WebSocket text frame as a server sends it (unmasked)."""
    return bytes(FrameProtocol(client=False, extensions=[]).send_data(text, fin=True))


@attrs.frozen
class Event:
    """One published event: the wire frame, its JSON text (encoded once for every
    subscriber) and routing fields."""

    customer_id: str
    seq: int
    type: str
    frame: Mapping[str, Any]
    text: str = attrs.field(
        default=attrs.Factory(lambda self: frame_json(self.frame), takes_self=True)
    )

    @property
    def is_update(self) -> bool:
        """Whether this is a coalescible progress/status update."""
        return self.type == UPDATE

    @functools.cached_property
    def wire(self) -> bytes:
        """The event as one WebSocket text frame, encoded on first use.

        Server-to-client frames are unmasked and we negotiate no extension, so the same
        bytes serve every subscriber.
        """
        return text_frame(self.text)


class Transport(Protocol):
    """Where a subscriber's events go when they need not wait (a WebSocket's socket)."""

    def write_nowait(self, data: bytes) -> bool:
        """Write ``data`` now if nothing is waiting to go out before it.

        Returns:
            True if the transport took ``data`` (sent, or partly sent with the rest its
            own task finishes); False if nothing was written (the socket would block, or
            earlier bytes are still unsent): the caller queues the event.
        """
        ...


@attrs.define(eq=False)
class Subscriber:
    """A bounded, coalescing queue of events for one consumer (e.g. a WebSocket)."""

    customers: frozenset[str] | None
    capacity: int
    max_bytes: int = 256 * 1024
    """Queued bytes (of events' JSON text) beyond which logs are dropped."""
    on_dropped: Callable[[], None] | None = None
    transport: Transport | None = None
    replayed: dict[str, int] = attrs.field(factory=dict)
    """Per customer, the last ``seq`` already sent from the store: not sent again."""
    _items: OrderedDict[tuple[Any, ...], Event] = attrs.field(factory=OrderedDict)
    _latest: dict[str, tuple[Any, ...]] = attrs.field(factory=dict)
    _dropped: dict[str, int] = attrs.field(factory=dict)
    _bytes: int = 0
    _ready: trio.Event = attrs.field(factory=trio.Event)
    closed: bool = False

    def wants(self, customer_id: str) -> bool:
        """Whether this subscriber follows ``customer_id``."""
        return self.customers is None or customer_id in self.customers

    def offer(self, event: Event) -> None:
        """Deliver or queue ``event`` without blocking, coalescing or dropping as needed."""
        if self.replayed and self._was_replayed(event):
            return
        if (
            self.transport is not None
            and not self._items
            and not self._dropped
            and self.transport.write_nowait(event.wire)
        ):
            return
        self.enqueue(event)

    def enqueue(self, event: Event) -> None:
        """Queue ``event`` (the transport would block, or older events wait) and wake the reader."""
        self._queue(event)
        self._ready.set()

    def _was_replayed(self, event: Event) -> bool:
        return 0 <= event.seq <= self.replayed.get(event.customer_id, -1)

    def _queue(self, event: Event) -> None:
        full = len(self._items) >= self.capacity or self._bytes >= self.max_bytes
        if event.is_update:
            latest = self._latest.get(event.customer_id)
            if latest is not None and latest in self._items:
                pending = self._items[latest]
                if full or pending.frame.get("status") == event.frame.get("status"):
                    del self._items[latest]
                    self._bytes -= len(pending.text)
            key = (UPDATE, event.customer_id, event.seq)
            self._latest[event.customer_id] = key
        elif full:
            self._dropped[event.customer_id] = self._dropped.get(event.customer_id, 0) + 1
            if self.on_dropped is not None:
                self.on_dropped()
            return
        else:
            key = (LOG, event.customer_id, event.seq)
        self._items[key] = event
        self._bytes += len(event.text)

    @property
    def dropped(self) -> int:
        """Logs dropped and not yet announced."""
        return sum(self._dropped.values())

    def pending(self) -> int:
        """Number of queued events."""
        return len(self._items)

    @property
    def pending_bytes(self) -> int:
        """Size of the queued events' JSON text."""
        return self._bytes

    def receive_nowait(self) -> Event:
        """Return the next event; raise ``trio.WouldBlock`` if there is none."""
        if self._dropped:
            customer_id, count = next(iter(self._dropped.items()))
            del self._dropped[customer_id]
            return _dropped_notice(customer_id, count)
        while self._items:
            _key, event = self._items.popitem(last=False)
            self._bytes -= len(event.text)
            if not (self.replayed and self._was_replayed(event)):
                return event
        if self.closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def wait_ready(self) -> None:
        """Wait until an event is queued, :meth:`wake` is called or the subscriber closes."""
        if not self.closed:
            self._ready = trio.Event()
            await self._ready.wait()

    def wake(self) -> None:
        """Wake a task in :meth:`wait_ready` (its transport has work of its own)."""
        self._ready.set()

    async def receive(self) -> Event:
        """Wait for and return the next event; ``trio.EndOfChannel`` once closed and empty."""
        while True:
            try:
                return self.receive_nowait()
            except trio.WouldBlock:
                await self.wait_ready()

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop delivery: a waiting receiver gets ``EndOfChannel`` once the queue is empty."""
        self.closed = True
        self._ready.set()


def _dropped_notice(customer_id: str, count: int) -> Event:
    frame = {
        "type": LOG,
        "customerId": customer_id,
        "taskId": None,
        "level": "warning",
        "message": f"dropped {count} log events: this client read too slowly; "
        "reconnect with since=<last seq> to replay them",
        "dropped": count,
    }
    return Event(customer_id=customer_id, seq=-1, type=LOG, frame=frame)


@attrs.define
class EventBus:
    """Fan events out to subscribers; one bus serves every customer.

    One bus with per-subscriber customer filters (rather than a bus per actor) lets a
    subscriber follow every customer, including ones registered after it subscribed.
    """

    capacity: int = 256
    max_bytes: int = 256 * 1024
    """Each subscriber's bound on queued bytes (see :attr:`Subscriber.max_bytes`)."""
    on_dropped: Callable[[], None] | None = None
    """Called for each log event dropped for a slow subscriber (metrics)."""
    last_seq: dict[str, int] = attrs.field(factory=dict)
    """Per customer, the ``seq`` of the last event published (where relaying resumes)."""
    _subscribers: dict[int, Subscriber] = attrs.field(factory=dict)
    _ids: Iterator[int] = attrs.field(factory=itertools.count)
    _transports: int = 0

    def publish(self, event: Event) -> bool:
        """Offer ``event`` to every interested subscriber once; never blocks.

        Sockets that take the frame at once get it first; the subscribers whose events
        wait (a backlog, a socket that would block, no transport) queue it afterwards, so
        a stalled subscriber does not delay the ones after it. An event whose ``seq`` was
        published already is not offered again: with several instances, the customer's
        actor and the relay of other instances' events may both come to publish one event
        (each in ``seq`` order).

        Returns:
            False when the event had been published already (and was not offered again).
        """
        customer_id = event.customer_id
        if event.seq <= self.last_seq.get(customer_id, 0):
            return False
        self.last_seq[customer_id] = event.seq
        wire = event.wire if self._transports else b""
        waiting: list[Subscriber] = []
        for subscriber in self._subscribers.values():
            # The filter and offer()'s direct write inlined: this loop runs once per
            # subscriber and event, and the floor it competes with is one send() each.
            customers = subscriber.customers
            if customers is None or customer_id in customers:
                transport = subscriber.transport
                if (
                    transport is None
                    or subscriber._items
                    or subscriber._dropped
                    or subscriber.replayed
                    or not transport.write_nowait(wire)
                ):
                    waiting.append(subscriber)
        for subscriber in waiting:
            # offer() may try the socket once more: nothing of this subscriber waits
            # before the event then, so a write that goes through keeps the order.
            subscriber.offer(event)
        return True

    @contextmanager
    def subscribe(
        self, customers: Collection[str] | None = None, transport: Transport | None = None
    ) -> Iterator[Subscriber]:
        """Register a subscriber for the ``with`` block (all customers when ``None``).

        With a ``transport``, events go straight to it while it takes them at once.
        """
        key = next(self._ids)
        subscriber = Subscriber(
            customers=frozenset(customers) if customers else None,
            capacity=self.capacity,
            max_bytes=self.max_bytes,
            on_dropped=self.on_dropped,
            transport=transport,
        )
        self._subscribers[key] = subscriber
        self._transports += transport is not None
        try:
            yield subscriber
        finally:
            del self._subscribers[key]
            self._transports -= transport is not None
            subscriber.close()

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are attached."""
        return len(self._subscribers)

    def subscribers(self) -> list[Subscriber]:
        """The attached subscribers (metrics and benchmarks look at their queues)."""
        return list(self._subscribers.values())

    def close(self) -> None:
        """Close every subscriber (service shutdown)."""
        for subscriber in self._subscribers.values():
            subscriber.close()
