"""Recorded step results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from runner.store import StepRecord
from tests.store.factories import at

if TYPE_CHECKING:
    from runner.store import Store


def _step(stage: str, task_id: str = "1.1.1", body: dict[str, object] | None = None) -> StepRecord:
    return StepRecord(
        customer_id="cust-a",
        stage=stage,
        task_id=task_id,
        branch="task/1-1-1-add-flag",
        status_code=200,
        body=body or {"success": True, "stage": stage},
        recorded_at=at(1),
    )


async def test_steps_record_get_and_replace(store: Store) -> None:
    assert await store.steps.get("cust-a", "prep", "1.1.1", "task/1-1-1-add-flag") is None
    await store.steps.record(_step("prep"))
    assert await store.steps.get("cust-a", "prep", "1.1.1", "task/1-1-1-add-flag") == _step("prep")
    newer = attrs.evolve(_step("prep"), body={"success": True, "again": 1}, recorded_at=at(2))
    await store.steps.record(newer)
    assert await store.steps.get("cust-a", "prep", "1.1.1", "task/1-1-1-add-flag") == newer
    assert await store.steps.get("cust-a", "prep", "1.1.1", "other-branch") is None


async def test_steps_clear_forgets_every_stage_of_the_task(store: Store) -> None:
    await store.steps.record(_step("prep"))
    await store.steps.record(_step("implement"))
    await store.steps.record(_step("prep", task_id="1.1.2"))
    assert await store.steps.clear("cust-a", "1.1.1") == 2
    assert await store.steps.get("cust-a", "implement", "1.1.1", "task/1-1-1-add-flag") is None
    assert await store.steps.get("cust-a", "prep", "1.1.2", "task/1-1-1-add-flag") is not None


async def test_steps_find_across_customers_oldest_first(store: Store) -> None:
    other = attrs.evolve(_step("prep"), customer_id="cust-b", recorded_at=at(0))
    mine = _step("prep")
    await store.steps.record(mine)
    await store.steps.record(other)
    await store.steps.record(attrs.evolve(mine, branch="task/other", recorded_at=at(5)))
    found = await store.steps.find("prep", "1.1.1", "task/1-1-1-add-flag")
    assert [s.customer_id for s in found] == ["cust-b", "cust-a"]
    anywhere = await store.steps.find("prep", "1.1.1", None)
    assert [s.branch for s in anywhere] == [
        "task/1-1-1-add-flag",
        "task/1-1-1-add-flag",
        "task/other",
    ]
    assert await store.steps.find("prep", "9.9.9", None) == []


async def test_steps_find_prefix_matches_literal_prefix(store: Store) -> None:
    await store.steps.record(attrs.evolve(_step("verify:test.coverage"), recorded_at=at(2)))
    await store.steps.record(attrs.evolve(_step("verify:type.strict"), recorded_at=at(3)))
    await store.steps.record(_step("verify"))
    await store.steps.record(_step("verify_%"))
    found = await store.steps.find_prefix("verify:", "1.1.1", "task/1-1-1-add-flag")
    assert [s.stage for s in found] == ["verify:test.coverage", "verify:type.strict"]
    assert [s.stage for s in await store.steps.find_prefix("verify_%", "1.1.1", None)] == [
        "verify_%"
    ]
