from __future__ import annotations

from typing import TYPE_CHECKING

from runner.store import ProcessLife, ProcessRow
from tests.store.factories import customer

if TYPE_CHECKING:
    from runner.store import Store
    from tests.store.conftest import Database

NOW = "2026-01-01T00:00:00.000000Z"


async def test_journal_survives_a_restart_until_the_life_is_forgotten(database: Database) -> None:
    async with database.open() as store:
        await store.processes.begin_life("old", 4242, NOW, host="h1", start_time=77)
        await store.processes.started(ProcessRow("old:a", 100, 5000), NOW)
        await store.processes.started(ProcessRow("old:b", 101, 5001), NOW)
        await store.processes.started(ProcessRow("old:a", 100, 5000), NOW, ended=["old:b"])
    async with database.open() as store:  # the next life
        lives, rows = await store.processes.left_behind()
        assert lives == [ProcessLife("old", 4242, "h1", 77)]
        assert rows == [ProcessRow("old:a", 100, 5000)]
        await store.processes.begin_life("new", 4343, NOW)
        await store.processes.started(ProcessRow("new:c", 102, 5002), NOW)
        await store.processes.forget_lives(["old"])
        assert await store.processes.left_behind() == (
            [ProcessLife("new", 4343)],
            [ProcessRow("new:c", 102, 5002)],
        )


async def test_customer_delete_removes_its_rows_but_keeps_the_event_counter(
    store: Store,
) -> None:
    await store.customers.upsert(customer())
    await store.customers.save_state("cust-a", {"status": "FAILED"}, NOW)
    await store.events.append("cust-a", None, "execution-log", {"n": 1}, NOW)
    await store.customers.delete("cust-a")
    assert await store.customers.get("cust-a") is None
    assert await store.customers.load_state("cust-a") is None
    assert await store.events.append("cust-a", None, "execution-log", {"n": 2}, NOW) == 2
