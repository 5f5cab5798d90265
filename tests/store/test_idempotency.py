"""Idempotency records: begin/complete/replay/mismatch/in-flight/expiry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from runner.store import (
    Begin,
    InFlight,
    Mismatch,
    Replay,
    Started,
    normalize_timestamp,
)
from tests.store.factories import at

if TYPE_CHECKING:
    from runner.store import Store
    from tests.store.conftest import Database

SCOPE = "cust-a|tok1|POST /customers/cust-a/run"
BODY = b'{"success": true,  "runId": "r1"}'  # odd spacing: replay must be byte for byte


async def test_idempotency_begin_complete_replay(store: Store) -> None:
    idem = store.idempotency
    assert await idem.begin(SCOPE, "k1", "h1", at(0), at(0, minute=10)) == Started()
    assert await idem.begin(SCOPE, "k1", "h1", at(1), at(0, minute=10)) == InFlight()
    assert await idem.complete(SCOPE, "k1", 202, BODY, {"Content-Type": "application/json"})
    replay = await idem.begin(SCOPE, "k1", "h1", at(2), at(0, minute=10))
    assert replay == Replay(202, BODY, {"Content-Type": "application/json"})
    assert await idem.begin(SCOPE, "k1", "other", at(3), at(0, minute=10)) == Mismatch()
    assert not await idem.complete(SCOPE, "k1", 500, b"x", {})  # already completed
    assert await idem.begin(SCOPE, "k1", "h1", at(4), at(0, minute=10)) == replay


async def test_idempotency_mismatch_while_in_flight(store: Store) -> None:
    await store.idempotency.begin(SCOPE, "k1", "h1", at(0), at(0, minute=10))
    assert await store.idempotency.begin(SCOPE, "k1", "h2", at(1), at(0, 10)) == Mismatch()


async def test_idempotency_keys_are_scoped(store: Store) -> None:
    assert await store.idempotency.begin("cust-a", "k", "h1", at(0), at(0, 10)) == Started()
    assert await store.idempotency.begin("cust-b", "k", "h2", at(0), at(0, 10)) == Started()


async def test_idempotency_expired_record_is_replaced(store: Store) -> None:
    idem = store.idempotency
    await idem.begin(SCOPE, "k1", "h1", at(0), at(10))
    await idem.complete(SCOPE, "k1", 200, BODY, {})
    # +00:00 and Z spellings of the same instant compare equal: expires_at <= now
    assert await idem.begin(SCOPE, "k1", "h2", "2025-01-01T00:00:10+00:00", at(0, 20)) == Started()
    assert await idem.begin(SCOPE, "k1", "h2", at(11), at(0, 20)) == InFlight()


async def test_idempotency_abandon_lets_a_retry_run(store: Store) -> None:
    idem = store.idempotency
    await idem.begin(SCOPE, "k1", "h1", at(0), at(0, 10))
    assert await idem.abandon(SCOPE, "k1")
    assert not await idem.abandon(SCOPE, "k1")
    assert await idem.begin(SCOPE, "k1", "h1", at(1), at(0, 10)) == Started()
    await idem.complete(SCOPE, "k1", 200, BODY, {})
    assert not await idem.abandon(SCOPE, "k1")  # completed rows are kept
    assert isinstance(await idem.begin(SCOPE, "k1", "h1", at(2), at(0, 10)), Replay)


async def test_idempotency_purge_expired(store: Store) -> None:
    idem = store.idempotency
    await idem.begin(SCOPE, "old", "h", at(0), at(5))
    await idem.complete(SCOPE, "old", 200, BODY, {})
    await idem.begin(SCOPE, "stale-in-flight", "h", at(0), at(5))
    await idem.begin(SCOPE, "fresh", "h", at(0), at(30))
    assert await idem.purge_expired(at(5)) == 2
    assert await idem.count() == {"in_flight": 1, "completed": 0}
    assert await idem.begin(SCOPE, "fresh", "h", at(6), at(30)) == InFlight()


async def test_idempotency_replay_survives_restart_and_in_flight_is_cleared(
    database: Database,
) -> None:
    async with database.open() as store:
        await store.idempotency.begin(SCOPE, "done", "h", at(0), at(0, 10))
        await store.idempotency.complete(SCOPE, "done", 201, BODY, {"X-Request-ID": "r"})
        await store.idempotency.begin(SCOPE, "crashed", "h", at(0), at(0, 10))
    async with database.open() as store:
        assert await store.idempotency.clear_in_flight() == 1
        assert await store.idempotency.begin(SCOPE, "done", "h", at(1), at(0, 10)) == Replay(
            201, BODY, {"X-Request-ID": "r"}
        )
        assert await store.idempotency.begin(SCOPE, "crashed", "h", at(1), at(0, 10)) == Started()


async def test_idempotency_concurrent_begins_start_exactly_once(store: Store) -> None:
    results: list[Begin] = []

    async def begin() -> None:
        results.append(await store.idempotency.begin(SCOPE, "k1", "h1", at(0), at(0, 10)))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(begin)
    assert results.count(Started()) == 1
    assert results.count(InFlight()) == 19


def test_normalize_timestamp_accepts_iso_spellings() -> None:
    expected = "2025-01-01T00:00:00.000000Z"
    assert normalize_timestamp("2025-01-01T00:00:00Z") == expected
    assert normalize_timestamp("2025-01-01T01:00:00+01:00") == expected
    assert normalize_timestamp("2025-01-01T00:00:00") == expected  # naive = UTC
    with pytest.raises(ValueError, match="Invalid isoformat"):
        normalize_timestamp("yesterday")


async def test_idempotency_in_flight_keys_of_dead_instances_are_cleared_only(
    store: Store,
) -> None:
    await store.idempotency.begin(SCOPE, "dead", "h", at(0), at(0, 10), instance="i1")
    await store.idempotency.begin(SCOPE, "live", "h", at(0), at(0, 10), instance="i2")
    assert await store.idempotency.clear_in_flight(["i1"]) == 1
    assert await store.idempotency.begin(SCOPE, "dead", "h", at(1), at(0, 10), "i3") == Started()
    assert await store.idempotency.begin(SCOPE, "live", "h", at(1), at(0, 10), "i3") == InFlight()
    assert await store.idempotency.clear_in_flight([]) == 0  # no dead instance
