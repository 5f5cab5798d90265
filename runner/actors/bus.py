"""The event bus: sync, non-blocking publish; bounded, coalescing per-subscriber queues.

A publisher never waits for a subscriber. Each subscriber has a bounded queue. An unread
``execution-update`` is replaced by the customer's newer one (latest wins, moved to the end
so delivery stays in ``seq`` order) when it only moves the progress, or when the queue is
full; a status change is otherwise kept, so a client that keeps up sees every status. Logs
beyond the bound are dropped and later announced by one ``execution-log`` saying how many
(tractor's ``Lagged`` idea).
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
import trio

__all__ = ["Event", "EventBus", "Subscriber"]

UPDATE = "execution-update"
LOG = "execution-log"


def _encode(frame: Mapping[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


@attrs.frozen
class Event:
    """One published event: the wire frame, its JSON text (encoded once for every
    subscriber) and routing fields."""

    customer_id: str
    seq: int
    type: str
    frame: Mapping[str, Any]
    text: str = attrs.field(
        default=attrs.Factory(lambda self: _encode(self.frame), takes_self=True)
    )

    @property
    def is_update(self) -> bool:
        """Whether this is a coalescible progress/status update."""
        return self.type == UPDATE


@attrs.define(eq=False)
class Subscriber:
    """A bounded, coalescing queue of events for one consumer (e.g. a WebSocket)."""

    customers: frozenset[str] | None
    capacity: int
    on_dropped: Callable[[], None] | None = None
    _items: OrderedDict[tuple[Any, ...], Event] = attrs.field(factory=OrderedDict)
    _latest: dict[str, tuple[Any, ...]] = attrs.field(factory=dict)
    _dropped: dict[str, int] = attrs.field(factory=dict)
    _ready: trio.Event = attrs.field(factory=trio.Event)
    closed: bool = False

    def wants(self, customer_id: str) -> bool:
        """Whether this subscriber follows ``customer_id``."""
        return self.customers is None or customer_id in self.customers

    def offer(self, event: Event) -> None:
        """Queue ``event`` without blocking, coalescing or dropping as needed."""
        full = len(self._items) >= self.capacity
        if event.is_update:
            latest = self._latest.get(event.customer_id)
            if latest is not None and latest in self._items:
                pending = self._items[latest]
                if full or pending.frame.get("status") == event.frame.get("status"):
                    del self._items[latest]
            key = (UPDATE, event.customer_id, event.seq)
            self._items[key] = event
            self._latest[event.customer_id] = key
        elif full:
            self._dropped[event.customer_id] = self._dropped.get(event.customer_id, 0) + 1
            if self.on_dropped is not None:
                self.on_dropped()
        else:
            self._items[(LOG, event.customer_id, event.seq)] = event
        self._ready.set()

    @property
    def dropped(self) -> int:
        """Logs dropped and not yet announced."""
        return sum(self._dropped.values())

    def pending(self) -> int:
        """Number of queued events."""
        return len(self._items)

    def receive_nowait(self) -> Event:
        """Return the next event; raise ``trio.WouldBlock`` if there is none."""
        if self._dropped:
            customer_id, count = next(iter(self._dropped.items()))
            del self._dropped[customer_id]
            return _dropped_notice(customer_id, count)
        if not self._items:
            if self.closed:
                raise trio.EndOfChannel
            raise trio.WouldBlock
        _key, event = self._items.popitem(last=False)
        return event

    async def receive(self) -> Event:
        """Wait for and return the next event; ``trio.EndOfChannel`` once closed and empty."""
        while True:
            try:
                return self.receive_nowait()
            except trio.WouldBlock:
                self._ready = trio.Event()
                await self._ready.wait()

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
    on_dropped: Callable[[], None] | None = None
    """Called for each log event dropped for a slow subscriber (metrics)."""
    _subscribers: dict[int, Subscriber] = attrs.field(factory=dict)
    _ids: Iterator[int] = attrs.field(factory=itertools.count)

    def publish(self, event: Event) -> None:
        """Offer ``event`` to every interested subscriber; never blocks."""
        for subscriber in self._subscribers.values():
            if subscriber.wants(event.customer_id):
                subscriber.offer(event)

    @contextmanager
    def subscribe(self, customers: Collection[str] | None = None) -> Iterator[Subscriber]:
        """Register a subscriber for the ``with`` block (all customers when ``None``)."""
        key = next(self._ids)
        subscriber = Subscriber(
            customers=frozenset(customers) if customers else None,
            capacity=self.capacity,
            on_dropped=self.on_dropped,
        )
        self._subscribers[key] = subscriber
        try:
            yield subscriber
        finally:
            del self._subscribers[key]
            subscriber.close()

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are attached."""
        return len(self._subscribers)

    def close(self) -> None:
        """Close every subscriber (service shutdown)."""
        for subscriber in self._subscribers.values():
            subscriber.close()
