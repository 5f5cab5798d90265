"""Customer leases on both engines: claim, renew, expire, release, fence.

Expiry is the database's clock, which no test can move: leases here last a fraction of a
second and a test polls (with a deadline) until the database says one has expired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from runner.errors import LeaseLostError
from runner.store import UNFINISHED, Lease, fence, fenced
from tests.store.factories import at, customer, run

if TYPE_CHECKING:
    from runner.store import Connection, Store
    from tests.store.conftest import Database

LONG = 60.0
"""A lease that does not expire during a test."""
SHORT = 1.0
"""A lease a test waits out (long enough to use it first on a loaded machine)."""


async def _register(store: Store, *customer_ids: str) -> None:
    for customer_id in customer_ids:
        await store.customers.upsert(customer(customer_id))


async def _claim_when_expired(store: Store, owner: str, customer_id: str) -> Lease:
    """Claim ``customer_id`` as soon as the database lets ``owner`` have it."""
    with trio.fail_after(10):
        while True:
            taken = await store.leases.claim(owner, LONG, customer_id=customer_id)
            if taken:
                return taken[0]
            await trio.sleep(0.02)  # polling the database's clock, bounded by the deadline


async def _audit_fenced(store: Store, lease: Lease, action: str) -> None:
    """Record an audit row only while ``lease`` holds (a fenced write)."""

    def job(conn: Connection) -> None:
        fence(conn, store.dialect, lease)
        conn.execute(
            "INSERT INTO audit (timestamp, token_id, action, customer_id, outcome,"
            " status_code, detail) VALUES (?, 'tok', ?, ?, 'ok', 200, '{}')",
            (at(1), action, lease.customer_id),
        )

    await store.write(job)


async def test_leases_claim_free_customers_once_with_a_new_token(store: Store) -> None:
    await _register(store, "a", "b", "c")
    first = await store.leases.claim("i1", LONG, limit=2)
    assert first == [Lease("a", "i1", 1), Lease("b", "i1", 1)]
    second = await store.leases.claim("i2", LONG, limit=5)
    assert second == [Lease("c", "i2", 1)]
    assert await store.leases.claim("i3", LONG, limit=5) == []  # all held
    assert await store.leases.claim("i3", LONG, customer_id="a") == []


async def test_leases_expired_lease_goes_to_the_next_claimer_with_a_higher_token(
    store: Store,
) -> None:
    await _register(store, "a")
    (old,) = await store.leases.claim("i1", SHORT)
    taken = await _claim_when_expired(store, "i2", "a")
    assert taken == Lease("a", "i2", old.token + 1)
    assert await store.leases.renew("i1", LONG) == []  # too late: i1 lost it
    holder = await store.leases.holder("a")
    assert holder is not None
    assert (holder.owner, holder.token) == ("i2", old.token + 1)


async def test_leases_fence_refuses_the_writes_of_a_stale_owner(store: Store) -> None:
    await _register(store, "a")
    (old,) = await store.leases.claim("i1", SHORT)

    await _audit_fenced(store, old, "while held")
    new = await _claim_when_expired(store, "i2", "a")
    with pytest.raises(LeaseLostError) as excinfo:
        await _audit_fenced(store, old, "after losing it")  # the old owner wakes up, writes
    assert excinfo.value.code == "lease_lost"
    assert excinfo.value.http_status == 409
    await _audit_fenced(store, new, "new owner")
    actions = [row.entry.action for row in await store.audit.list("a", 10)]
    assert actions == ["new owner", "while held"]


async def _lasting(store: Store, seconds: float) -> list[str]:
    """The customers whose lease runs for more than ``seconds`` from now (database time)."""
    later = store.dialect.later
    rows = await store.read(
        lambda conn: conn.execute(
            f"SELECT customer_id FROM customer_leases WHERE expires_at > {later}"
            " ORDER BY customer_id",
            (seconds,),
        ).fetchall()
    )
    return [row[0] for row in rows]


async def test_leases_renew_extends_every_live_lease_of_the_owner_in_one_go(store: Store) -> None:
    await _register(store, "a", "b", "c")
    await store.leases.claim("i1", 5.0, limit=2)  # a, b
    await store.leases.claim("i2", 5.0, limit=1)  # c
    assert await _lasting(store, 30.0) == []
    renewed = await store.leases.renew("i1", LONG)
    assert renewed == [Lease("a", "i1", 1), Lease("b", "i1", 1)]  # tokens unchanged
    assert await _lasting(store, 30.0) == ["a", "b"]  # not i2's customer


async def test_leases_release_lets_another_instance_take_over_at_once(store: Store) -> None:
    await _register(store, "a", "b")
    await store.leases.claim("i1", LONG, limit=2)
    assert await store.leases.release("i1", ["a"]) == 1
    assert await store.leases.holder("a") is None
    assert await store.leases.claim("i2", LONG, limit=5) == [Lease("a", "i2", 2)]
    assert await store.leases.release("i1") == 1  # the rest: b
    assert await store.leases.release("i1", []) == 0
    assert await store.leases.claim("i2", LONG, limit=5) == [Lease("b", "i2", 2)]


async def test_leases_holder_names_the_owner_and_its_url(store: Store) -> None:
    await _register(store, "a")
    await store.leases.register_instance("i1", "http://10.0.0.5:8081", at(0))
    assert await store.leases.holder("a") is None
    await store.leases.claim("i1", LONG, customer_id="a")
    assert await store.leases.holder("a") == Lease("a", "i1", 1, "http://10.0.0.5:8081")
    await store.customers.delete("a")
    assert await store.leases.holder("a") is None


async def test_leases_concurrent_claims_never_share_a_customer(database: Database) -> None:
    customers = [f"c{n:02d}" for n in range(30)]
    taken: dict[str, list[str]] = {}
    async with database.open() as setup:
        await _register(setup, *customers)

    async def instance(name: str) -> None:
        async with database.open() as store:
            for _ in range(4):
                for lease in await store.leases.claim(name, LONG, limit=3):
                    taken.setdefault(lease.customer_id, []).append(name)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(instance, f"i{n}")
    assert sorted(taken) == customers
    assert all(len(owners) == 1 for owners in taken.values())


async def test_leases_fenced_context_guards_every_write_made_in_it(store: Store) -> None:
    await _register(store, "a")
    (old,) = await store.leases.claim("i1", SHORT)
    with fenced(old):
        await store.customers.save_state("a", {"status": "IMPLEMENTING"}, at(1))
    await _claim_when_expired(store, "i2", "a")
    with fenced(old), pytest.raises(LeaseLostError):
        await store.customers.save_state("a", {"status": "DONE"}, at(2))
    await store.customers.save_state("a", {"status": "FAILED"}, at(3))  # unfenced: taken
    assert await store.customers.load_state("a") == {"status": "FAILED"}


async def test_leases_claim_of_unfinished_runs_takes_only_orphans_of_a_run(store: Store) -> None:
    await _register(store, "idle", "mid-run", "paused", "held")
    await store.runs.create(run("r1", "mid-run", "IMPLEMENTING"))
    await store.runs.create(run("r2", "paused", "PAUSED"))
    await store.runs.create(run("r3", "held", "VERIFYING"))
    await store.leases.claim("i1", LONG, customer_id="held")
    assert await store.leases.unfinished(UNFINISHED) == (1, {"i1": 1})
    taken = await store.leases.claim("i2", LONG, limit=10, unfinished=UNFINISHED)
    assert [lease.customer_id for lease in taken] == ["mid-run"]
    assert await store.leases.unfinished(UNFINISHED) == (0, {"i1": 1, "i2": 1})


async def test_leases_instances_seen_lately_are_the_live_ones(store: Store) -> None:
    await store.leases.register_instance("i1", "http://a:1", at(0))
    await store.leases.register_instance("i2", None, at(0))
    assert await store.leases.instances(seen_within_s=LONG) == [("i1", "http://a:1"), ("i2", None)]
    await store.write(  # i2 has not renewed for a minute
        lambda conn: conn.execute(
            f"UPDATE instances SET seen_at = {store.dialect.earlier} WHERE instance_id = 'i2'",
            (90,),
        )
    )
    assert await store.leases.instances(seen_within_s=LONG) == [("i1", "http://a:1")]
    await store.leases.renew("i2", LONG)  # a heartbeat with nothing held still says "alive"
    assert len(await store.leases.instances(seen_within_s=LONG)) == 2
    await store.leases.forget_instances(["i2"])
    assert await store.leases.instances(seen_within_s=LONG) == [("i1", "http://a:1")]
