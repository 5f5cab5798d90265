"""Transient failures are waited out with backoff, not counted as attempts; permanent ones stop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import structlog
import trio
import trio.testing

from runner.actors import ActorDeps, EventBus, GetState, Registry, StartRun
from runner.config import Settings
from runner.errors import RepoAccessError, ToolError
from runner.metrics import Metrics
from runner.pipeline.autopilot import MAX_BACKOFF_S
from runner.redact import Redactor
from runner.tools import JobSlots
from tests.helpers.fake_stages import FakeStages
from tests.helpers.memory_store import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


@pytest.fixture
def stages() -> FakeStages:
    return FakeStages(tasks=("1.1.1",))


@pytest.fixture
def start(stages: FakeStages, nursery: trio.Nursery) -> Callable[..., Awaitable[Registry]]:
    async def start(**settings: Any) -> Registry:
        store = MemoryStore()
        store.register("acme")
        deps = ActorDeps(
            settings=Settings(**settings), store=store, bus=EventBus(),  # type: ignore[arg-type]
            stages=stages, slots=JobSlots(2), redactor=Redactor(), metrics=Metrics(),
            now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        )  # fmt: skip
        registry: Registry = await nursery.start(Registry(deps).run)
        return registry

    return start


async def _final(registry: Registry) -> dict[str, Any]:
    with trio.fail_after(10_000):
        while (state := await registry.ask("acme", GetState))["status"] not in (  # noqa: ASYNC110
            "DONE",
            "FAILED",
        ):
            await trio.sleep(0.01)
    return state  # type: ignore[no-any-return]


def _rate_limited() -> ToolError:
    return ToolError("litellm.RateLimitError: 429", code="model_rate_limited", task_id="1.1.1")


async def test_a_rate_limit_is_waited_out_and_is_not_an_attempt(
    start: Callable[..., Awaitable[Registry]],
    stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
) -> None:
    stages.fail[("implement", "1.1.1")] = _rate_limited()
    stages.fail_times[("implement", "1.1.1")] = 3
    registry = await start(transient_backoff_s=10.0)
    began = trio.current_time()
    with structlog.testing.capture_logs():
        await registry.ask("acme", lambda r: StartRun(None, None, r, max_attempts=1))
        state = await _final(registry)
    assert state["status"] == "DONE", state.get("error")
    assert [c[1] for c in stages.calls if c[2] == "1.1.1"] == [
        "prep", "implement", "implement", "implement", "implement", "verify", "complete"
    ]  # fmt: skip
    waited = trio.current_time() - began
    assert 0 < waited <= 10 + 20 + 40  # full jitter: at most base * (1 + 2 + 4)
    assert stages.repairs == [None] * 4  # never a repair prompt: the same attempt again


async def test_transient_retries_run_out_and_the_run_stops_with_the_code(
    start: Callable[..., Awaitable[Registry]],
    stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
) -> None:
    stages.fail[("implement", "1.1.1")] = _rate_limited()
    registry = await start(transient_retries=2)
    await registry.ask("acme", lambda r: StartRun(None, None, r))
    state = await _final(registry)
    assert (state["status"], state["error"]["code"]) == ("FAILED", "model_rate_limited")
    assert [c[1] for c in stages.calls].count("implement") == 3  # the first, then 2 more


async def test_a_git_remote_hiccup_at_select_is_retried(
    start: Callable[..., Awaitable[Registry]],
    stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
) -> None:
    stages.fail[("select", "")] = RepoAccessError(
        "fetch failed: Connection refused", code="git_remote_unavailable"
    )
    stages.fail_times[("select", "")] = 2
    registry = await start()
    await registry.ask("acme", lambda r: StartRun(None, None, r))
    assert (await _final(registry))["status"] == "DONE"
    assert [c[1] for c in stages.calls][:3] == ["select", "select", "select"]


@pytest.mark.parametrize("code", ["model_auth_failed", "git_auth_failed", "repo_not_found"])
async def test_a_permanent_failure_stops_at_once(
    start: Callable[..., Awaitable[Registry]],
    stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
    code: str,
) -> None:
    stages.fail[("implement", "1.1.1")] = ToolError("refused", code=code, task_id="1.1.1")
    registry = await start()
    began = trio.current_time()
    await registry.ask("acme", lambda r: StartRun(None, None, r))
    state = await _final(registry)
    assert (state["status"], state["error"]["code"]) == ("FAILED", code)
    assert [c[1] for c in stages.calls].count("implement") == 1
    assert trio.current_time() - began < 1  # no backoff


async def test_each_wait_is_capped(
    start: Callable[..., Awaitable[Registry]],
    stages: FakeStages,
    autojump_clock: trio.testing.MockClock,
) -> None:
    stages.fail[("implement", "1.1.1")] = _rate_limited()
    registry = await start(transient_retries=3, transient_backoff_s=10_000.0)
    began = trio.current_time()
    await registry.ask("acme", lambda r: StartRun(None, None, r))
    assert (await _final(registry))["status"] == "FAILED"
    assert trio.current_time() - began <= 3 * MAX_BACKOFF_S + 1
