"""Customers and execution state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import pytest
import trio

from runner.errors import RunnerError
from tests.store.factories import at, customer

if TYPE_CHECKING:
    from runner.store import Store
    from tests.store.conftest import Database


async def test_customers_upsert_inserts_then_updates_keeping_created_at(
    store: Store,
) -> None:
    assert await store.customers.upsert(customer()) == customer()
    changed = attrs.evolve(
        customer(), base_branch="develop", push=True, created_at=at(9), updated_at=at(9)
    )
    stored = await store.customers.upsert(changed)
    assert stored == attrs.evolve(changed, created_at=at(0))
    assert await store.customers.get("cust-a") == stored


async def test_customers_cache_never_holds_an_older_record_than_the_table(
    database: Database,
) -> None:
    async with database.open() as store:
        await store.customers.upsert(customer("a", "file:///repos/v0"))
        assert await store.customers.get("a") == customer("a", "file:///repos/v0")
        for round_ in range(10):
            with trio.fail_after(30):
                async with trio.open_nursery() as nursery:  # reads racing with writes
                    for n in range(20):
                        url = f"file:///repos/r{round_}-{n}"
                        nursery.start_soon(store.customers.upsert, customer("a", url))
                        nursery.start_soon(store.customers.get, "a")
            (latest,) = await store.customers.list()  # the table (list is not cached)
            assert latest.repo_url.startswith(f"file:///repos/r{round_}-")
            assert await store.customers.get("a") == latest


async def test_customers_get_unknown_is_none(store: Store) -> None:
    assert await store.customers.get("nobody") is None


async def test_customers_list_and_find_by_repo(store: Store) -> None:
    await store.customers.upsert(customer("b", "file:///repos/shared"))
    await store.customers.upsert(customer("a", "file:///repos/shared"))
    await store.customers.upsert(customer("c", "file:///repos/other"))
    assert [c.customer_id for c in await store.customers.list()] == ["a", "b", "c"]
    found = await store.customers.find_by_repo("file:///repos/shared")
    assert [c.customer_id for c in found] == ["a", "b"]
    assert await store.customers.find_by_repo("file:///repos/none") == []


async def test_customers_state_save_load_replace(store: Store) -> None:
    await store.customers.upsert(customer("a"))
    await store.customers.upsert(customer("b"))
    assert await store.customers.load_state("a") is None
    await store.customers.save_state("a", {"status": "IMPLEMENTING", "task": "1.1.1"}, at(1))
    await store.customers.save_state("a", {"status": "DONE"}, at(2))
    await store.customers.save_state("b", {"status": "IDLE"}, at(2))
    assert await store.customers.load_state("a") == {"status": "DONE"}
    assert await store.customers.load_all_states() == {
        "a": {"status": "DONE"},
        "b": {"status": "IDLE"},
    }


async def test_customers_state_needs_a_registered_customer(store: Store) -> None:
    with pytest.raises(RunnerError) as excinfo:
        await store.customers.save_state("ghost", {"status": "IDLE"}, at(1))
    assert excinfo.value.code == "store_error"
    assert await store.customers.load_all_states() == {}


async def test_customers_list_in_byte_order_whatever_the_locale(store: Store) -> None:
    ids = ["cust-10", "cust_b", "Cust-a", "cust-9", "custa", "cust.x"]
    for customer_id in ids:
        await store.customers.upsert(customer(customer_id))
    assert [c.customer_id for c in await store.customers.list()] == sorted(ids)
