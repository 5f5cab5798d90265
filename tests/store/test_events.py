"""The event log: per-customer seq, since, prune."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import trio

from runner.errors import RunnerError
from runner.store import EventRecord, NewEvent, StateSnapshot, StepRecord
from tests.store.factories import at, customer

if TYPE_CHECKING:
    from runner.store import Store
    from tests.store.conftest import Database


async def test_events_seq_increases_per_customer(store: Store) -> None:
    assert await store.events.last_seq("a") == 0
    seqs = [
        await store.events.append(customer_id, "run-1", "execution-log", {"n": n}, at(n))
        for n, customer_id in enumerate(["a", "b", "a", "a", "b"])
    ]
    assert seqs == [1, 1, 2, 3, 2]
    assert await store.events.last_seq("a") == 3
    assert await store.events.last_seq("b") == 2


async def test_events_seq_continues_after_restart(database: Database) -> None:
    async with database.open() as store:
        for n in range(3):
            await store.events.append("a", None, "execution-log", {"n": n}, at(n))
    async with database.open() as store:
        assert await store.events.last_seq("a") == 3
        assert await store.events.append("a", None, "execution-log", {"n": 3}, at(3)) == 4


async def test_events_seq_is_unique_under_concurrent_appends(store: Store) -> None:
    seqs: dict[str, list[int]] = {"a": [], "b": []}

    async def producer(customer_id: str, count: int) -> None:
        for n in range(count):
            seq = await store.events.append(customer_id, None, "execution-log", {"n": n}, at(1))
            seqs[customer_id].append(seq)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(producer, "a", 25)
                nursery.start_soon(producer, "b", 10)
    assert sorted(seqs["a"]) == list(range(1, 201))
    assert sorted(seqs["b"]) == list(range(1, 81))
    stored = await store.events.since(["a"], 0, 1000)
    assert [e.seq for e in stored] == list(range(1, 201))  # stored order is seq order


async def test_events_append_many_is_one_batch_in_order(store: Store) -> None:
    await store.events.append("a", None, "execution-log", {"n": 0}, at(0))
    batch = [
        NewEvent("a", "r", "execution-update", {"n": 1}, at(1)),
        NewEvent("b", "r", "execution-update", {"n": 2}, at(2)),
        NewEvent("a", "r", "execution-log", {"n": 3}, at(3)),
    ]
    records = await store.events.append_many(batch)
    assert records == [
        EventRecord("a", 2, "r", "execution-update", '{"n":1}', at(1)),
        EventRecord("b", 1, "r", "execution-update", '{"n":2}', at(2)),
        EventRecord("a", 3, "r", "execution-log", '{"n":3}', at(3)),
    ]
    assert await store.events.append_many([]) == []


async def test_event_record_text_is_the_stored_json_with_the_seq_first(
    store: Store,
) -> None:
    await store.events.append("a", None, "execution-log", {"message": "é ✅", "n": 1}, at(1))
    await store.events.append("a", None, "execution-log", {}, at(2))
    first, empty = await store.events.since(["a"], 0, 10)
    assert first.payload_json == '{"message":"é ✅","n":1}'  # encoded once, UTF-8 as is
    assert first.text == '{"seq":1,"message":"é ✅","n":1}'
    assert json.loads(first.text) == {"seq": 1, **first.payload}
    assert empty.text == '{"seq":2}'


async def test_events_append_many_stores_state_and_steps_in_the_same_transaction(
    store: Store,
) -> None:
    await store.customers.upsert(customer("a"))
    step = StepRecord("a", "prep", "1.1.1", "task/1-1-1-x", 200, {"branch": "b"}, at(1))
    update = NewEvent("a", None, "execution-update", {"status": "IDLE"}, at(1))
    state = StateSnapshot("a", {"status": "IDLE"}, at(1))
    await store.events.append_many([update], state=state, steps=[step])
    assert await store.steps.get("a", "prep", "1.1.1", "task/1-1-1-x") == step
    assert (await store.customers.load_all_states())["a"]["status"] == "IDLE"

    nobody = StateSnapshot("nobody", {"status": "IDLE"}, at(2))  # not registered: refused
    other = StepRecord("a", "verify", "1.1.1", "task/1-1-1-x", 200, {}, at(2))
    with pytest.raises(RunnerError):
        await store.events.append_many([update], state=nobody, steps=[other])
    assert await store.steps.get("a", "verify", "1.1.1", "task/1-1-1-x") is None  # all or none
    assert await store.events.last_seq("a") == 1


async def test_events_since_filters_by_customer_and_seq(store: Store) -> None:
    for n, customer_id in enumerate(["a", "b", "c", "a", "b", "a"]):
        await store.events.append(customer_id, None, "execution-log", {"n": n}, at(n))
    everything = await store.events.since(None, 0, 100)
    assert [(e.customer_id, e.seq) for e in everything] == [
        ("a", 1),
        ("b", 1),
        ("c", 1),
        ("a", 2),
        ("b", 2),
        ("a", 3),
    ]
    assert [(e.customer_id, e.seq) for e in await store.events.since(None, 1, 100)] == [
        ("a", 2),
        ("b", 2),
        ("a", 3),
    ]
    only_a = await store.events.since(["a"], 1, 100)
    assert [(e.seq, e.payload) for e in only_a] == [(2, {"n": 3}), (3, {"n": 5})]
    a_and_c = await store.events.since(["c", "a", "a"], 0, 100)
    assert [(e.customer_id, e.seq) for e in a_and_c] == [("a", 1), ("c", 1), ("a", 2), ("a", 3)]
    assert [e.seq for e in await store.events.since(["a"], 0, 2)] == [1, 2]
    assert await store.events.since([], 0, 100) == []
    assert await store.events.since(["zzz"], 0, 100) == []


async def test_events_prune_keeps_newest_per_customer_and_never_reuses_seq(
    store: Store,
) -> None:
    for n in range(10):
        await store.events.append("a", None, "execution-log", {"n": n}, at(n))
    for n in range(2):
        await store.events.append("b", None, "execution-log", {"n": n}, at(n))
    assert await store.events.prune(keep_per_customer=3) == 7
    assert [e.seq for e in await store.events.since(["a"], 0, 100)] == [8, 9, 10]
    assert [e.seq for e in await store.events.since(["b"], 0, 100)] == [1, 2]
    assert await store.events.prune(keep_per_customer=0) == 5
    assert await store.events.since(None, 0, 100) == []
    assert await store.events.append("a", None, "execution-log", {}, at(11)) == 11
