"""The customer actor and the registry in virtual time, with scripted stages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

from runner.actors import (
    ActorDeps,
    EventBus,
    GetState,
    Pause,
    Registry,
    Resume,
    StartRun,
    Stop,
)
from runner.actors.bus import UPDATE
from runner.config import Settings
from runner.errors import ConflictError, InvalidTransitionError, RunnerError
from runner.metrics import Metrics
from runner.redact import Redactor
from runner.tools import JobSlots
from tests.helpers.fake_stages import FakeStages
from tests.helpers.memory_store import MemoryStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.register("acme")
    memory.register("globex")
    return memory


@pytest.fixture
def stages() -> FakeStages:
    return FakeStages()


@pytest.fixture
async def registry(
    store: MemoryStore, stages: FakeStages, nursery: trio.Nursery
) -> AsyncIterator[Registry]:
    deps = ActorDeps(
        settings=Settings(), store=store, bus=EventBus(), stages=stages,  # type: ignore[arg-type]
        slots=JobSlots(2), redactor=Redactor(), metrics=Metrics(),
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    return await nursery.start(Registry(deps).run)


async def _state(registry: Registry, customer: str = "acme") -> dict[str, Any]:
    state: dict[str, Any] = await registry.ask(customer, GetState)
    return state


async def _wait_status(registry: Registry, *statuses: str, customer: str = "acme") -> None:
    # polling in virtual time: each sleep is an instant jump of the mock clock
    while (await _state(registry, customer))["status"] not in statuses:  # noqa: ASYNC110
        await trio.sleep(0.01)


async def test_run_to_done(registry: Registry, autojump_clock: trio.testing.MockClock) -> None:
    state = await registry.ask("acme", lambda r: StartRun(None, None, r))
    assert state["status"] == "SELECTING"
    with trio.fail_after(60):
        await _wait_status(registry, "DONE")
    assert (await _state(registry))["progress"] == 100.0


@pytest.mark.parametrize(
    ("action", "allowed"),
    [("pause", "SELECTING"), ("resume", "PAUSED"), ("stop", "SELECTING")],
)
async def test_transitions_from_idle_are_refused(
    registry: Registry, action: str, allowed: str, autojump_clock: trio.testing.MockClock
) -> None:
    command = {"pause": Pause, "resume": Resume, "stop": Stop}[action]
    with pytest.raises(InvalidTransitionError) as caught:
        await registry.ask("acme", command)
    assert caught.value.current == "IDLE"
    assert allowed in caught.value.allowed


async def test_pause_then_resume_then_stop(
    registry: Registry, stages: FakeStages, autojump_clock: trio.testing.MockClock
) -> None:
    gate = stages.gate("implement")
    await registry.ask("acme", lambda r: StartRun(None, None, r))
    await stages.entered["implement"].wait()
    paused = await registry.ask("acme", Pause)
    assert paused["pauseRequested"] is True
    with pytest.raises(InvalidTransitionError):
        await registry.ask("acme", lambda r: StartRun(None, None, r))
    gate.set()
    with trio.fail_after(60):
        await _wait_status(registry, "PAUSED")
    stages.gate("verify")
    resumed = await registry.ask("acme", Resume)
    assert resumed["status"] == "VERIFYING"
    await stages.entered["verify"].wait()
    await registry.ask("acme", Stop)
    with trio.fail_after(60):
        await _wait_status(registry, "STOPPED")
    assert stages.resets == 1


async def test_manual_stages_queue_while_one_runs(
    registry: Registry, stages: FakeStages, autojump_clock: trio.testing.MockClock
) -> None:
    from runner.actors import RunPrep
    from runner.pipeline import PrepRequest

    gate = stages.gate("prep")
    results: list[Any] = []
    async with trio.open_nursery() as nursery:
        for task in ("1.1.1", "1.1.2"):
            nursery.start_soon(_ask_prep, registry, task, results, RunPrep, PrepRequest)
        await stages.entered["prep"].wait()
        await trio.testing.wait_all_tasks_blocked()
        assert len([c for c in stages.calls if c[1] == "prep"]) == 1  # the other one waits
        with pytest.raises(ConflictError):  # an autopilot run cannot start meanwhile
            await registry.ask("acme", lambda r: StartRun(None, None, r))
        gate.set()
    assert sorted(r.task_id for r in results) == ["1.1.1", "1.1.2"]


async def test_a_manual_stage_persists_its_status_while_it_runs_then_rests(
    registry: Registry, store: MemoryStore, stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
) -> None:  # fmt: skip
    from runner.actors import RunPrep
    from runner.pipeline import PrepRequest

    def updates() -> list[str]:
        return [e.payload["status"] for e in store.events.records if e.type == UPDATE]

    gate = stages.gate("prep")
    results: list[Any] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_ask_prep, registry, "1.1.1", results, RunPrep, PrepRequest)
        await stages.entered["prep"].wait()
        await trio.testing.wait_all_tasks_blocked()
        assert store.customers.states["acme"]["status"] == "PREPARING"
        assert updates() == ["PREPARING"]
        assert not results
        gate.set()
    assert results[0].task_id == "1.1.1"
    await _wait_status(registry, "IDLE")
    assert updates() == ["PREPARING", "IDLE"]


async def test_a_stage_whose_status_cannot_be_persisted_is_answered_with_an_error(
    registry: Registry, store: MemoryStore, autojump_clock: trio.testing.MockClock
) -> None:
    from runner.actors import RunPrep
    from runner.pipeline import PrepRequest

    store.customers.fail_for.add("acme")
    with pytest.raises(RunnerError) as caught:
        await registry.ask("acme", lambda r: RunPrep(PrepRequest("1.1.1"), r))
    assert caught.value.code == "internal"
    assert store.events.records == []  # nothing half-written
    store.customers.fail_for.clear()
    await trio.testing.wait_all_tasks_blocked()  # the crashed actor is gone; the next is new
    again = await registry.ask("acme", lambda r: RunPrep(PrepRequest("1.1.1"), r))
    assert again.task_id == "1.1.1"


async def _ask_prep(registry: Registry, task: str, results: list[Any], run_stage: Any,
                    prep_request: Any) -> None:  # fmt: skip
    results.append(await registry.ask("acme", lambda r: run_stage(prep_request(task), r)))


async def test_a_crashing_actor_fails_only_its_customer(
    registry: Registry, store: MemoryStore, autojump_clock: trio.testing.MockClock
) -> None:
    await registry.ask("globex", GetState)
    store.customers.fail_for.add("acme")
    with pytest.raises(RunnerError) as caught:
        await registry.ask("acme", lambda r: StartRun(None, None, r))
    assert caught.value.code == "internal"
    store.customers.fail_for.clear()
    other = await registry.ask("globex", lambda r: StartRun(None, None, r))
    assert other["status"] == "SELECTING"
    recreated = await _state(registry)  # the actor is recreated on the next command
    assert recreated["status"] == "FAILED"
    assert recreated["error"]["code"] == "internal"
