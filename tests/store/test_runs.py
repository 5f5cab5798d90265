"""Runs: create, update, latest/list, mark_interrupted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import pytest

from runner.errors import NotFoundError, RunnerError
from tests.store.factories import at, customer, run

if TYPE_CHECKING:
    from runner.store import Store
    from tests.store.conftest import Database


async def test_runs_create_get_and_update(store: Store) -> None:
    await store.customers.upsert(customer())
    await store.runs.create(run("r1"))
    updated = await store.runs.update(
        "r1", status="IMPLEMENTING", current_task="1.1.1", updated_at=at(5)
    )
    assert updated == attrs.evolve(
        run("r1"), status="IMPLEMENTING", current_task="1.1.1", updated_at=at(5)
    )
    failed = await store.runs.update(
        "r1",
        status="FAILED",
        error={"stage": "implement", "code": "tool_failed", "message": "no diff"},
        updated_at=at(6),
        finished_at=at(6),
    )
    assert failed.current_task == "1.1.1"  # ... leaves it unchanged
    assert failed.error == {"stage": "implement", "code": "tool_failed", "message": "no diff"}
    assert failed.finished_at == at(6)
    resumed = await store.runs.update(
        "r1", status="PREPARING", current_task=None, error=None, updated_at=at(7)
    )
    assert (resumed.current_task, resumed.error, resumed.finished_at) == (None, None, None)
    assert await store.runs.get("r1") == resumed


async def test_runs_update_unknown_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.runs.update("nope", status="DONE", updated_at=at(1))


async def test_runs_create_needs_registered_customer(store: Store) -> None:
    with pytest.raises(RunnerError) as excinfo:
        await store.runs.create(run("r1", customer_id="ghost"))
    assert excinfo.value.code == "store_error"
    assert await store.runs.get("r1") is None


async def test_runs_latest_and_list_newest_first(store: Store) -> None:
    await store.customers.upsert(customer("a"))
    await store.customers.upsert(customer("b"))
    assert await store.runs.latest("a") is None
    for n, run_id in enumerate(["a1", "a2", "a3"], start=1):
        await store.runs.create(run(run_id, customer_id="a", status="DONE", second=n))
    await store.runs.create(run("b1", customer_id="b", second=9))
    latest = await store.runs.latest("a")
    assert latest is not None
    assert latest.run_id == "a3"
    assert [r.run_id for r in await store.runs.list("a", 2)] == ["a3", "a2"]
    assert [r.run_id for r in await store.runs.list("b", 10)] == ["b1"]


async def test_runs_mark_interrupted_fails_unfinished_runs_after_restart(
    database: Database,
) -> None:
    async with database.open() as store:
        await store.customers.upsert(customer())
        for run_id, status in [
            ("done", "DONE"),
            ("failed", "FAILED"),
            ("stopped", "STOPPED"),
            ("impl", "IMPLEMENTING"),
            ("paused", "PAUSED"),
        ]:
            await store.runs.create(run(run_id, status=status))
    async with database.open() as store:
        marked = await store.runs.mark_interrupted(at(30))
        assert {r.run_id: r.error for r in marked} == {
            "impl": {
                "stage": "implementing",
                "code": "interrupted",
                "message": "the service restarted during this run",
            },
        }
        assert all(
            (r.status, r.finished_at, r.updated_at) == ("FAILED", at(30), at(30)) for r in marked
        )
        done = await store.runs.get("done")
        assert done is not None
        assert (done.status, done.error) == ("DONE", None)
        paused = await store.runs.get("paused")
        assert paused is not None
        assert (paused.status, paused.error) == ("PAUSED", None)  # not interrupted: resumable
        assert await store.runs.mark_interrupted(at(31)) == []
