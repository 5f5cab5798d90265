"""LeaseKeeper tests: renewing, losing on time, releasing; in virtual time, then on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import pytest
import trio

from runner.actors import LeaseKeeper
from runner.store import Lease, open_postgres_store
from tests.store.factories import customer

if TYPE_CHECKING:
    from tests.helpers.postgres import PostgresServer

TTL = 6.0


@attrs.define
class FakeLeases:
    """Leases in memory: the customers ``renew`` still returns, a gate to hang it."""

    free: list[str]
    alive: set[str] = attrs.field(factory=set)
    hang: trio.Event | None = None
    released: list[Sequence[str] | None] = attrs.field(factory=list)

    async def claim(
        self,
        owner: str,
        ttl_s: float,
        *,
        limit: int = 1,
        customer_id: str | None = None,
        unfinished: Sequence[str] = (),
    ) -> list[Lease]:
        await trio.lowlevel.checkpoint()
        wanted = [c for c in self.free if customer_id in (None, c)][:limit]
        for c in wanted:
            self.free.remove(c)
            self.alive.add(c)
        return [Lease(c, owner, 1) for c in wanted]

    async def renew(self, owner: str, ttl_s: float) -> list[Lease]:
        if self.hang is not None:
            await self.hang.wait()
        await trio.lowlevel.checkpoint()
        return [Lease(c, owner, 1) for c in sorted(self.alive)]

    async def release(self, owner: str, customer_ids: Sequence[str] | None = None) -> int:
        await trio.lowlevel.checkpoint()
        self.released.append(customer_ids)
        return 0


@attrs.define
class Lost:
    """What ``on_lost`` was told, and when (virtual time)."""

    calls: list[tuple[str, float]] = attrs.field(factory=list)

    def __call__(self, customer_id: str) -> None:
        self.calls.append((customer_id, trio.current_time()))

    @property
    def customers(self) -> list[str]:
        return [c for c, _ in self.calls]


async def test_lease_keeper_keeps_renewed_leases_long_past_the_ttl(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    leases, lost = FakeLeases(["a", "b", "c"]), Lost()
    keeper = LeaseKeeper(leases, "i1", TTL, lost)
    assert await keeper.claim(limit=2) == [Lease("a", "i1", 1), Lease("b", "i1", 1)]
    await nursery.start(keeper.run)
    await trio.sleep(TTL * 5)
    assert keeper.customers == ["a", "b"]
    assert keeper.held("a") == Lease("a", "i1", 1)
    assert keeper.renewals >= 14  # one every TTL / 3
    assert lost.calls == []


async def test_lease_keeper_loses_a_lease_the_renewal_did_not_return(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    leases, lost = FakeLeases(["a", "b"]), Lost()
    keeper = LeaseKeeper(leases, "i1", TTL, lost)
    await keeper.claim(limit=2)
    await nursery.start(keeper.run)
    leases.alive.discard("b")  # another instance took it after an expiry
    await trio.sleep(TTL / 3 + 0.1)  # the next heartbeat
    assert lost.customers == ["b"]
    assert keeper.held("b") is None
    assert keeper.customers == ["a"]


async def test_lease_keeper_gives_all_up_at_the_deadline_while_a_renewal_hangs(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    leases, lost = FakeLeases(["a", "b"]), Lost()
    keeper = LeaseKeeper(leases, "i1", TTL, lost)
    start = trio.current_time()
    await keeper.claim(limit=2)
    leases.hang = trio.Event()  # the database stops answering; a write cannot be cancelled
    await nursery.start(keeper.run)
    await trio.sleep(TTL * 2)
    assert lost.calls == [("a", start + TTL), ("b", start + TTL)]  # at the claim's deadline
    assert keeper.customers == []
    leases.hang.set()  # the renewal comes back late: the database renewed what we gave up
    await trio.sleep(1)
    assert leases.released == [["a", "b"]]  # so they are handed back at once


async def test_lease_keeper_releases_everything_when_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    leases = FakeLeases(["a"])
    keeper = LeaseKeeper(leases, "i1", TTL, Lost())
    await keeper.claim("a")
    async with trio.open_nursery() as nursery:
        await nursery.start(keeper.run)
        nursery.cancel_scope.cancel()
    assert leases.released == [None]
    assert keeper.held("a") is None


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()


async def test_lease_keeper_holds_a_postgres_lease_past_its_ttl_then_hands_it_over(
    url: str,
) -> None:
    async with open_postgres_store(url) as store, open_postgres_store(url) as other:
        await store.customers.upsert(customer("a"))
        keeper = LeaseKeeper(store.leases, "i1", 1.0, Lost())
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                await keeper.claim("a")
                await nursery.start(keeper.run)
                while True:  # 5 renewals: > 1.6 s, the TTL passed, renewed all along
                    if keeper.renewals >= 5:
                        break
                    await trio.sleep(0.05)
                assert await other.leases.claim("i2", 60.0, customer_id="a") == []
                holder = await other.leases.holder("a")
                assert holder is not None
                assert holder.owner == "i1"
                nursery.cancel_scope.cancel()  # stopping: released at once
            taken = await other.leases.claim("i2", 60.0, customer_id="a")
    assert taken == [Lease("a", "i2", 2)]
