"""The audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.store import AuditEntry
from tests.store.factories import at

if TYPE_CHECKING:
    from runner.store import Store
    from tests.store.conftest import Database


def _entry(n: int, customer_id: str | None) -> AuditEntry:
    return AuditEntry(
        timestamp=at(n),
        token_id="anonymous" if n % 2 else "tok1",
        action="POST /customers/{id}/run",
        customer_id=customer_id,
        outcome="ok",
        status_code=202,
        request_id=f"req-{n}",
        detail={"n": n},
    )


async def test_audit_lists_newest_first_with_filter_and_paging(store: Store) -> None:
    ids = [await store.audit.record(_entry(n, "a" if n % 3 else "b")) for n in range(1, 10)]
    assert ids == sorted(ids)
    everything = await store.audit.list(None, 100)
    assert [row.entry.detail["n"] for row in everything] == list(range(9, 0, -1))
    assert [row.id for row in everything] == ids[::-1]
    only_b = await store.audit.list("b", 100)
    assert [row.entry.detail["n"] for row in only_b] == [9, 6, 3]
    page = await store.audit.list("a", 2)
    assert [row.entry.detail["n"] for row in page] == [8, 7]
    next_page = await store.audit.list("a", 2, before_id=page[-1].id)
    assert [row.entry.detail["n"] for row in next_page] == [5, 4]
    assert everything[0].entry == _entry(9, "b")


async def test_audit_survives_restart_and_purges_old_rows(database: Database) -> None:
    async with database.open() as store:
        await store.audit.record(_entry(1, None))
        await store.audit.record(_entry(2, "a"))
    async with database.open() as store:
        assert [r.entry.customer_id for r in await store.audit.list(None, 10)] == ["a", None]
        assert await store.audit.purge_before(at(2)) == 1
        assert [r.entry.request_id for r in await store.audit.list(None, 10)] == ["req-2"]
