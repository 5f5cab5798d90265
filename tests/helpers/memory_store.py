"""An in-memory stand-in for the store's repositories the actors use (virtual-time tests).

The real store waits on a thread, which ``autojump_clock`` counts as blocked; this one never
leaves the trio loop, so actor tests can run in virtual time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from runner.store import (
    CustomerRecord,
    EventRecord,
    NewEvent,
    RunRecord,
    StageRecord,
    StateSnapshot,
    StepRecord,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


@attrs.define
class _Customers:
    records: dict[str, CustomerRecord] = attrs.field(factory=dict)
    states: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    fail_for: set[str] = attrs.field(factory=set)

    async def get(self, customer_id: str) -> CustomerRecord | None:
        return self.records.get(customer_id)

    async def save_state(self, customer_id: str, state: dict[str, Any], updated_at: str) -> None:
        if customer_id in self.fail_for:
            raise RuntimeError("disk on fire")
        self.states[customer_id] = state

    async def load_all_states(self) -> dict[str, dict[str, Any]]:
        return dict(self.states)


@attrs.define
class _Runs:
    runs: dict[str, RunRecord] = attrs.field(factory=dict)
    stage_records: dict[str, list[StageRecord]] = attrs.field(factory=dict)

    async def create(self, record: RunRecord) -> None:
        self.runs[record.run_id] = record

    async def update(self, run_id: str, **changes: Any) -> None:
        self.runs[run_id] = attrs.evolve(self.runs[run_id], **changes)

    async def mark_interrupted(self, now: str) -> list[RunRecord]:
        return []

    async def record_stage(self, record: StageRecord) -> StageRecord:
        stages = self.stage_records.setdefault(record.run_id, [])
        attempt = 1 + sum((s.task_id, s.stage) == (record.task_id, record.stage) for s in stages)
        stored = attrs.evolve(record, attempt=attempt)
        stages.append(stored)
        return stored

    async def stages(self, run_ids: Sequence[str]) -> dict[str, list[StageRecord]]:
        return {run_id: list(self.stage_records.get(run_id, [])) for run_id in run_ids}


@attrs.define
class _Events:
    customers: _Customers
    records: list[EventRecord] = attrs.field(factory=list)
    steps: list[StepRecord] = attrs.field(factory=list)
    runs: _Runs = attrs.field(factory=lambda: _Runs())

    async def append_many(
        self,
        events: Sequence[NewEvent],
        *,
        state: StateSnapshot | None = None,
        steps: Sequence[StepRecord] = (),
        new_run: RunRecord | None = None,
    ) -> list[EventRecord]:
        if new_run is not None:
            self.runs.runs[new_run.run_id] = new_run
        if state is not None:
            await self.customers.save_state(state.customer_id, state.state, state.updated_at)
        self.steps += steps
        out = []
        for e in events:
            seq = 1 + max(
                (r.seq for r in self.records if r.customer_id == e.customer_id), default=0
            )
            record = EventRecord(e.customer_id, seq, e.run_id, e.type, e.payload_json, e.timestamp)
            self.records.append(record)  # before the next one: each event its own seq
            out.append(record)
        return out

    async def append(self, customer_id: str, run_id: str | None, type: str,  # noqa: A002
                     payload: dict[str, Any], timestamp: str) -> int:  # fmt: skip
        (record,) = await self.append_many([NewEvent(customer_id, run_id, type, payload,
                                                     timestamp)])  # fmt: skip
        return record.seq


@attrs.define
class MemoryStore:
    """``customers``, ``runs`` and ``events`` as the actors use them."""

    customers: _Customers = attrs.field(factory=_Customers)
    runs: _Runs = attrs.field(factory=_Runs)
    events: _Events = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.events = _Events(self.customers, runs=self.runs)

    def register(self, customer_id: str) -> None:
        """Add a customer record."""
        now = "2026-01-01T00:00:00Z"
        self.customers.records[customer_id] = CustomerRecord(
            customer_id=customer_id, repo_url="/srv/x", base_branch="main",
            tasks_file="docs/DevTeam/tasks_list.md", tool="aider", push=False, settings={},
            created_at=now, updated_at=now,
        )  # fmt: skip
