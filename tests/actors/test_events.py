from __future__ import annotations

import trio
import trio.lowlevel
import trio.testing

from runner.actors import LOG, UPDATE, Event, EventBus


def _update(customer: str, seq: int, status: str = "IMPLEMENTING") -> Event:
    frame = {"type": UPDATE, "customerId": customer, "status": status, "seq": seq}
    return Event(customer, seq, UPDATE, frame)


def _log(customer: str, seq: int) -> Event:
    return Event(customer, seq, LOG, {"type": LOG, "customerId": customer, "seq": seq})


def test_bus_delivers_in_publish_order_to_matching_subscribers() -> None:
    bus = EventBus(capacity=10)
    with bus.subscribe(["a"]) as only_a, bus.subscribe() as everyone:
        bus.publish(_update("a", 1))
        bus.publish(_log("b", 1))
        bus.publish(_log("a", 2))
        assert [e.seq for e in _drain(only_a)] == [1, 2]
        assert [(e.customer_id, e.seq) for e in _drain(everyone)] == [("a", 1), ("b", 1), ("a", 2)]


def test_unread_progress_updates_coalesce_latest_wins_and_keep_seq_order() -> None:
    bus = EventBus(capacity=10)
    with bus.subscribe() as sub:
        bus.publish(_update("a", 1, "IMPLEMENTING"))
        bus.publish(_log("a", 2))
        bus.publish(_update("a", 3, "IMPLEMENTING"))
        bus.publish(_update("b", 1, "PREPARING"))
        events = _drain(sub)
    assert [(e.customer_id, e.seq) for e in events] == [("a", 2), ("a", 3), ("b", 1)]


def test_status_changes_are_kept_while_there_is_room() -> None:
    bus = EventBus(capacity=10)
    with bus.subscribe() as sub:
        for seq, status in enumerate(["SELECTING", "PREPARING", "IMPLEMENTING", "DONE"], 1):
            bus.publish(_update("a", seq, status))
        events = _drain(sub)
    assert [e.frame["status"] for e in events] == ["SELECTING", "PREPARING", "IMPLEMENTING", "DONE"]


def test_status_changes_coalesce_when_the_queue_is_full() -> None:
    bus = EventBus(capacity=3)
    with bus.subscribe() as sub:
        for seq, status in enumerate(["SELECTING", "PREPARING", "IMPLEMENTING", "VERIFYING"], 1):
            bus.publish(_update("a", seq, status))
        assert sub.pending() == 3
        bus.publish(_update("a", 9, "DONE"))
        events = _drain(sub)
    assert [e.frame["status"] for e in events] == ["SELECTING", "PREPARING", "DONE"]


def test_logs_beyond_capacity_are_dropped_and_announced_once() -> None:
    bus = EventBus(capacity=3)
    with bus.subscribe() as sub:
        for seq in range(1, 11):  # seqs start at 1, as the store's
            bus.publish(_log("a", seq))
        first = sub.receive_nowait()
        assert first.type == LOG
        assert first.frame["dropped"] == 7
        assert "dropped 7" in first.frame["message"]
        assert [e.seq for e in _drain(sub)] == [1, 2, 3]


def test_updates_are_never_dropped_even_when_logs_fill_the_queue() -> None:
    bus = EventBus(capacity=2)
    with bus.subscribe() as sub:
        for seq in range(1, 6):
            bus.publish(_log("a", seq))
        bus.publish(_update("a", 99, "DONE"))
        events = _drain(sub)
    assert events[-1].frame["status"] == "DONE"


def test_unsubscribed_subscriber_gets_nothing_and_bus_forgets_it() -> None:
    bus = EventBus()
    with bus.subscribe() as sub:
        assert bus.subscriber_count == 1
    bus.publish(_update("a", 1))
    assert bus.subscriber_count == 0
    assert sub.pending() == 0


async def test_receive_waits_for_publish(autojump_clock: trio.testing.MockClock) -> None:
    bus = EventBus()
    received: list[int] = []
    with bus.subscribe() as sub:
        async with trio.open_nursery() as nursery:

            async def reader() -> None:
                received.append((await sub.receive()).seq)

            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            assert received == []
            bus.publish(_update("a", 7))
    assert received == [7]


async def test_stalled_subscriber_does_not_block_publisher_or_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = EventBus(capacity=5)
    with bus.subscribe() as stalled, bus.subscribe() as live:
        got: list[int] = []
        async with trio.open_nursery() as nursery:

            async def consume() -> None:
                async for event in live:
                    got.append(event.seq)
                    if event.seq == 1000:
                        return

            nursery.start_soon(consume)
            for seq in range(1, 1001):
                bus.publish(_log("a", seq))
                await trio.lowlevel.checkpoint()  # let the live reader keep up
        assert got[-1] == 1000
        assert len(got) == 1000
        assert stalled.pending() == 5
        assert stalled.dropped == 995


async def test_closed_subscriber_ends_iteration() -> None:
    bus = EventBus()
    with bus.subscribe() as sub:
        bus.publish(_update("a", 1))
        bus.close()
        assert [e.seq async for e in sub] == [1]


def _drain(sub: object) -> list[Event]:
    out: list[Event] = []
    while True:
        try:
            out.append(sub.receive_nowait())  # type: ignore[attr-defined]
        except trio.WouldBlock:
            return out


def test_each_dropped_log_is_reported_to_the_bus_observer() -> None:
    dropped: list[None] = []
    bus = EventBus(capacity=3, on_dropped=lambda: dropped.append(None))
    with bus.subscribe(), bus.subscribe(["b"]):  # the second follows another customer
        for seq in range(1, 11):
            bus.publish(_log("a", seq))
        bus.publish(_update("a", 11, "DONE"))  # an update is never dropped
    assert len(dropped) == 7


class _Socket:
    """A transport that takes frames while ``open`` (a socket with room), else refuses."""

    def __init__(self) -> None:
        self.open = True
        self.written: list[bytes] = []

    def write_nowait(self, data: bytes) -> bool:
        if self.open:
            self.written.append(data)
        return self.open


def test_transport_gets_each_frame_directly_while_it_takes_them() -> None:
    bus, socket = EventBus(capacity=10), _Socket()
    with bus.subscribe(["a"], socket) as sub:
        first, second = _update("a", 1), _log("a", 2)
        bus.publish(first)
        bus.publish(second)
        assert socket.written == [first.wire, second.wire]
        assert sub.pending() == 0


def test_events_queue_while_the_transport_would_block_and_keep_order_after() -> None:
    bus, socket = EventBus(capacity=10), _Socket()
    with bus.subscribe(["a"], socket) as sub:
        socket.open = False
        bus.publish(_log("a", 1))
        socket.open = True  # room again, but an older event waits: this one must queue too
        bus.publish(_log("a", 2))
        assert socket.written == []
        assert [e.seq for e in _drain(sub)] == [1, 2]
        bus.publish(_log("a", 3))  # queue empty again: straight to the socket
        assert socket.written == [_log("a", 3).wire]


def test_wire_is_one_unmasked_websocket_text_frame_shared_by_subscribers() -> None:
    from wsproto.frame_protocol import FrameDecoder, Opcode

    event = _log("a", 1)
    assert event.wire is event.wire  # encoded once
    decoder = FrameDecoder(client=True)  # a client reads what a server sends
    decoder.receive_bytes(event.wire)
    frame = decoder.process_buffer()
    assert frame is not None
    assert frame.opcode is Opcode.TEXT
    assert frame.frame_finished
    assert frame.payload == event.text.encode()
    assert event.wire[1] & 0x80 == 0  # not masked


def test_logs_are_dropped_beyond_the_byte_bound_too() -> None:
    bus = EventBus(capacity=1000, max_bytes=4096)
    big = "x" * 1000
    with bus.subscribe() as sub:
        for seq in range(1, 51):
            frame = {"type": LOG, "customerId": "a", "seq": seq, "message": big}
            bus.publish(Event("a", seq, LOG, frame))
        # ~1062 bytes each: the fourth crosses 4096 bytes; the rest are dropped
        assert sub.pending() == 4
        assert 4096 <= sub.pending_bytes < 4096 + 1100
        assert sub.dropped == 46


def test_events_already_replayed_are_not_sent_again() -> None:
    bus, socket = EventBus(capacity=10), _Socket()
    with bus.subscribe(["a"], socket) as sub:
        socket.open = False
        bus.publish(_log("a", 5))
        bus.publish(_log("a", 6))
        sub.replayed["a"] = 5
        assert [e.seq for e in _drain(sub)] == [6]
        socket.open = True
        bus.publish(_log("a", 4))  # published late, stored before the replay read it
        bus.publish(_log("a", 7))
        assert socket.written == [_log("a", 7).wire]


def test_an_event_published_twice_reaches_each_subscriber_once() -> None:
    bus = EventBus(capacity=10)
    with bus.subscribe() as sub:
        for seq in (1, 2, 2, 1, 3):  # the relay and the actor may both publish an event
            bus.publish(_log("a", seq))
        bus.publish(_log("b", 1))
        assert [(e.customer_id, e.seq) for e in _drain(sub)] == [
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("b", 1),
        ]


def test_a_stalled_subscriber_queues_after_the_sockets_that_take_the_frame() -> None:
    order: list[str] = []
    bus = EventBus(capacity=1, on_dropped=lambda: order.append("stalled: dropped"))

    class _Recording(_Socket):
        def write_nowait(self, data: bytes) -> bool:
            order.append("live: written" if self.open else "stalled: refused")
            return super().write_nowait(data)

    stalled_socket, live_socket = _Recording(), _Recording()
    stalled_socket.open = False
    with bus.subscribe(["a"], stalled_socket) as stalled, bus.subscribe(["a"], live_socket):
        bus.publish(_log("a", 1))  # the stalled subscriber's queue is now full
        order.clear()
        bus.publish(_log("a", 2))  # subscribed first, but its queueing waits for the live one
        assert order == ["live: written", "stalled: dropped"]
        assert stalled.dropped == 1
