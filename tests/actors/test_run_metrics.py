"""Metrics and error logs of runs: stage durations by outcome, runs by final status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import attrs
import pytest
import structlog
import trio
import trio.testing

from runner.actors import ActorDeps, EventBus, GetState, Registry, StartRun
from runner.config import Settings
from runner.metrics import Metrics
from runner.redact import Redactor
from runner.tools import JobSlots
from tests.helpers.fake_stages import FakeStages, criteria_failure
from tests.helpers.memory_store import MemoryStore

if TYPE_CHECKING:
    from runner.pipeline import SelectResult, StageContext


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def stages() -> FakeStages:
    return FakeStages(tasks=("1.1.1", "1.1.2"))


@pytest.fixture
async def registry(metrics: Metrics, stages: FakeStages, nursery: trio.Nursery) -> Registry:
    store = MemoryStore()
    store.register("acme")
    deps = ActorDeps(
        settings=Settings(), store=store, bus=EventBus(), stages=stages,  # type: ignore[arg-type]
        slots=JobSlots(2), redactor=Redactor(), metrics=metrics,
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    started: Registry = await nursery.start(Registry(deps).run)
    return started


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def _wait_status(registry: Registry, *statuses: str) -> None:
    with trio.fail_after(600):
        while (await registry.ask("acme", GetState))["status"] not in statuses:  # noqa: ASYNC110
            await trio.sleep(0.01)


async def test_stage_durations_and_final_status_are_observed(
    registry: Registry,
    metrics: Metrics,
    stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
) -> None:
    stages.fail[("verify", "1.1.2")] = criteria_failure("1.1.2")
    with structlog.testing.capture_logs() as logs:
        await registry.ask("acme", lambda r: StartRun(None, None, r, request_id="req-42"))
        await _wait_status(registry, "FAILED")
    count = "devteam_stage_duration_seconds_count"
    assert _sample(metrics, count, stage="prep", outcome="ok") == 2
    assert _sample(metrics, count, stage="verify", outcome="ok") == 1
    # every attempt at 1.1.2 (three by default) ends its VERIFY failed
    assert _sample(metrics, count, stage="verify", outcome="failed") == 3
    assert _sample(metrics, count, stage="implement", outcome="ok") == 4
    assert _sample(metrics, count, stage="complete", outcome="ok") == 1
    assert _sample(metrics, "devteam_runs_total", status="FAILED") == 1
    assert _sample(metrics, "devteam_runs_total", status="DONE") == 0
    (failed,) = [e for e in logs if e["event"] == "run_failed"]
    assert failed["log_level"] == "error"
    assert (failed["code"], failed["stage"], failed["task_id"], failed["request_id"]) == (
        "criteria_not_met", "verify", "1.1.2", "req-42"
    )  # fmt: skip
    assert failed["customer_id"] == "acme"


async def test_a_stage_that_takes_a_minute_is_observed_as_a_minute(
    registry: Registry,
    metrics: Metrics,
    stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = stages.gate("implement")
    await registry.ask("acme", lambda r: StartRun(None, None, r))
    await stages.entered["implement"].wait()
    await trio.sleep(60)
    assert _sample(metrics, "devteam_active_runs") == 1
    gate.set()
    await _wait_status(registry, "DONE")
    assert _sample(metrics, "devteam_active_runs") == 0
    total = "devteam_stage_duration_seconds_sum"
    assert _sample(metrics, total, stage="implement", outcome="ok") == pytest.approx(60, abs=1)
    assert _sample(metrics, "devteam_runs_total", status="DONE") == 1


@attrs.define(eq=False)
class _ContextRecorder(FakeStages):
    seen: list[dict[str, object]] = attrs.field(factory=list)

    async def select(self, ctx: StageContext, *, exclude_completed: bool = True) -> SelectResult:
        self.seen.append(structlog.contextvars.get_contextvars())
        return await super().select(ctx, exclude_completed=exclude_completed)


async def test_an_actor_does_not_inherit_the_ids_of_the_request_that_created_it(
    nursery: trio.Nursery, metrics: Metrics, autojump_clock: trio.testing.MockClock
) -> None:
    stages = _ContextRecorder()
    store = MemoryStore()
    store.register("acme")
    deps = ActorDeps(
        settings=Settings(), store=store, bus=EventBus(), stages=stages,  # type: ignore[arg-type]
        slots=JobSlots(2), redactor=Redactor(), metrics=metrics,
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    registry: Registry = await nursery.start(Registry(deps).run)
    with structlog.contextvars.bound_contextvars(request_id="req-creator"):
        await registry.ask("acme", GetState)  # this request creates the actor
    await registry.ask("acme", lambda r: StartRun(None, None, r, request_id="req-run"))
    await _wait_status(registry, "DONE")
    assert stages.seen[0]["customer_id"] == "acme"
    assert "request_id" not in stages.seen[0]
