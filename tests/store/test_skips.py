"""Skipped tasks: added, replaced, listed, removed (on both engines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.store import SkipRecord
from tests.store.factories import at, customer

if TYPE_CHECKING:
    from runner.store import Store


async def test_a_skip_is_kept_replaced_and_removed(store: Store) -> None:
    await store.customers.upsert(customer("cust-a"))
    await store.skips.add(SkipRecord("cust-a", "1.1.1", "later", None, at(1)))
    await store.skips.add(SkipRecord("cust-a", "1.1.1", "needs a decision", "ops", at(2)))
    skipped = await store.skips.of("cust-a")
    assert skipped == {"1.1.1": SkipRecord("cust-a", "1.1.1", "needs a decision", "ops", at(2))}
    assert await store.skips.remove("cust-a", "1.1.1") is True
    assert await store.skips.remove("cust-a", "1.1.1") is False  # not skipped any more
    assert await store.skips.of("cust-a") == {}
