"""Stage log lines reach subscribers while the stage runs, whatever state changes happen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio
import trio.testing

from runner.actors import ActorDeps, EventBus, Pause, Registry, StartRun
from runner.actors.bus import LOG, UPDATE
from runner.actors.journal import Journal
from runner.actors.state import ExecutionState
from runner.config import Settings
from runner.metrics import Metrics
from runner.redact import Redactor
from runner.tools import JobSlots
from tests.helpers.fake_stages import FakeStages
from tests.helpers.memory_store import MemoryStore

if TYPE_CHECKING:
    from runner.actors import Subscriber
    from runner.pipeline import ImplementRequest, ImplementResult, StageContext

_LIVE_S = 0.5  # the spec: a line reaches subscribers within 500 ms, batching included


@attrs.define(eq=False)
class ChattyStages(FakeStages):
    """IMPLEMENT prints a line, works a minute, prints another, works another minute."""

    printed: dict[str, float] = attrs.field(factory=dict)
    halfway: trio.Event = attrs.field(factory=trio.Event)
    go_on: trio.Event = attrs.field(factory=trio.Event)

    def _print(self, ctx: StageContext, line: str) -> None:
        self.printed[line] = trio.current_time()
        ctx.log("info", line)

    async def implement(self, ctx: StageContext, request: ImplementRequest) -> ImplementResult:
        self._print(ctx, "tool: first line")
        await trio.sleep(60)
        self.halfway.set()
        await self.go_on.wait()  # the test changes the state here
        self._print(ctx, "tool: second line")
        await trio.sleep(60)
        return await super().implement(ctx, request)


@pytest.fixture
async def setup(nursery: trio.Nursery) -> tuple[Registry, EventBus, ChattyStages]:
    store = MemoryStore()
    store.register("acme")
    stages, bus = ChattyStages(tasks=("1.1.1",)), EventBus()
    deps = ActorDeps(
        settings=Settings(), store=store, bus=bus, stages=stages,  # type: ignore[arg-type]
        slots=JobSlots(2), redactor=Redactor(), metrics=Metrics(),
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    registry: Registry = await nursery.start(Registry(deps).run)
    return registry, bus, stages


async def _collect(subscriber: Subscriber, seen: list[tuple[float, dict[str, Any]]]) -> None:
    async for event in subscriber:
        seen.append((trio.current_time(), dict(event.frame)))  # noqa: PERF401  # seen live


def _arrival(seen: list[tuple[float, dict[str, Any]]], line: str) -> float | None:
    for at, frame in seen:
        if frame["type"] == LOG and line in frame["message"].split("\n"):
            return at
    return None


async def _wait_arrival(seen: list[tuple[float, dict[str, Any]]], line: str) -> float:
    while (at := _arrival(seen, line)) is None:  # noqa: ASYNC110  # virtual time: instant
        await trio.sleep(0.01)
    return at


async def test_stage_log_lines_reach_subscribers_while_the_stage_runs(
    setup: tuple[Registry, EventBus, ChattyStages], autojump_clock: trio.testing.MockClock
) -> None:
    registry, bus, stages = setup
    seen: list[tuple[float, dict[str, Any]]] = []
    with bus.subscribe(["acme"]) as subscriber:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, subscriber, seen)
            await registry.ask("acme", lambda r: StartRun(None, None, r))
            with trio.fail_after(600):
                await stages.halfway.wait()
            # the first line arrived while IMPLEMENT still ran (before the minute was over)
            first = _arrival(seen, "tool: first line")
            assert first is not None
            assert first - stages.printed["tool: first line"] <= _LIVE_S
            # a state change (pause requested) mid-stage does not silence later lines
            await registry.ask("acme", lambda r: Pause(r))
            stages.go_on.set()
            with trio.fail_after(_LIVE_S):
                second = await _wait_arrival(seen, "tool: second line")
            assert second - stages.printed["tool: second line"] <= _LIVE_S
            statuses_at_second = [f["status"] for at, f in seen if f["type"] == UPDATE
                                  and at <= second]  # fmt: skip
            assert statuses_at_second[-1] == "IMPLEMENTING"  # the stage had not ended yet
            nursery.cancel_scope.cancel()
    seqs = [frame["seq"] for _at, frame in seen]
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs))


async def test_lines_taken_by_a_state_change_go_out_once_and_in_order(
    setup: tuple[Registry, EventBus, ChattyStages], autojump_clock: trio.testing.MockClock
) -> None:
    registry, bus, stages = setup
    seen: list[tuple[float, dict[str, Any]]] = []
    with bus.subscribe(["acme"]) as subscriber:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, subscriber, seen)
            await registry.ask("acme", lambda r: StartRun(None, None, r))
            with trio.fail_after(600):
                await stages.halfway.wait()
            stages.go_on.set()
            with trio.fail_after(600):
                while not any(f.get("status") == "PAUSED" or f.get("status") == "DONE"  # noqa: ASYNC110
                              for _at, f in seen):  # fmt: skip
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    lines = [line for _at, f in seen if f["type"] == LOG for line in f["message"].split("\n")]
    assert lines.count("tool: first line") == 1
    assert lines.count("tool: second line") == 1
    assert lines.index("tool: first line") < lines.index("tool: second line")
    seqs = [frame["seq"] for _at, frame in seen]
    assert seqs == sorted(seqs)


@attrs.define
class _SlowFirstWrite:
    """The store's events, answering the first write late (seqs are still assigned in order)."""

    inner: Any
    calls: int = 0

    async def append_many(self, events: Any, **kwargs: Any) -> Any:
        self.calls += 1
        records = await self.inner.append_many(events, **kwargs)
        if self.calls == 1:
            await trio.sleep(1)
        return records


async def test_a_slow_log_flush_is_not_overtaken_by_a_later_update(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    store = MemoryStore()
    store.events = _SlowFirstWrite(store.events)  # type: ignore[assignment]
    bus = EventBus()
    deps = ActorDeps(
        settings=Settings(), store=store, bus=bus, stages=FakeStages(),  # type: ignore[arg-type]
        slots=JobSlots(1), redactor=Redactor(), metrics=Metrics(),
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    journal = Journal("acme", deps, ExecutionState("acme"))
    with bus.subscribe(["acme"]) as subscriber:
        nursery.start_soon(journal.flush_logs)
        journal.log("info", "printed first")
        await trio.sleep(0.1)  # the flusher has taken the line; its write is slow
        await journal.change("IMPLEMENTING")
        with trio.fail_after(5):
            first, second = await subscriber.receive(), await subscriber.receive()
    assert (first.type, first.seq) == (LOG, 1)
    assert (second.type, second.seq) == (UPDATE, 2)


@attrs.frozen
class _CountingRedactor(Redactor):
    """A redactor that counts how often each text went through it."""

    seen: list[str] = attrs.field(factory=list)

    def __call__(self, text: str) -> str:
        self.seen.append(text)
        return super().__call__(text)


async def test_a_log_line_is_redacted_once_and_its_json_encoded_once() -> None:
    store = MemoryStore()
    bus = EventBus()
    redactor = _CountingRedactor(secrets=("hunter2-secret",))
    deps = ActorDeps(
        settings=Settings(), store=store, bus=bus, stages=FakeStages(),  # type: ignore[arg-type]
        slots=JobSlots(1), redactor=redactor, metrics=Metrics(),
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    journal = Journal("acme", deps, ExecutionState("acme"))
    line = "tool: token=hunter2-secret é"
    with bus.subscribe(["acme"]) as subscriber:
        journal.log("info", line)
        await journal.change("IMPLEMENTING")
        log_event = subscriber.receive_nowait()
    # by log(); not again as its frame's message
    assert sum("tool: token" in text for text in redactor.seen) == 1
    (stored, _update) = store.events.records
    assert "hunter2" not in stored.payload_json
    assert stored.payload["message"] == "tool: token=*** é"
    # The WebSocket text is the stored row's JSON with the seq spliced in, not re-encoded.
    assert log_event.text == stored.text
    assert log_event.text.startswith(f'{{"seq":{stored.seq},')
    assert "é" in log_event.text
