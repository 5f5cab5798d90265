from __future__ import annotations

import functools

import pytest
import trio

from runner.tools.jobs import JobSlots


async def _job(
    slots: JobSlots, customer: str, started: list[tuple[float, str]], peak: list[int]
) -> None:
    async with slots.acquire(customer):
        started.append((trio.current_time(), customer))
        peak[0] = max(peak[0], slots.running)
        await trio.sleep(1)


async def test_job_slots_bound_and_round_robin(autojump_clock: trio.abc.Clock) -> None:
    slots = JobSlots(2)
    started: list[tuple[float, str]] = []
    peak = [0]
    begin = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(6):
            nursery.start_soon(_job, slots, "a", started, peak)
        await trio.sleep(0.5)  # virtual time: a holds the slots, its backlog queued
        nursery.start_soon(_job, slots, "b", started, peak)
        nursery.start_soon(_job, slots, "c", started, peak)
    assert peak[0] == 2
    assert len(started) == 8
    first_b = next(t for t, c in started if c == "b") - begin
    first_c = next(t for t, c in started if c == "c") - begin
    # a holds both slots and has 4 queued; freed slots go round-robin over a, b, c (b and c
    # in the order trio happened to schedule them), so b and c start at t=1 and t=2 instead
    # of after a's backlog (t=2 and t=3 in FIFO order)
    assert sorted([first_b, first_c]) == pytest.approx([1, 2])
    assert trio.current_time() - begin == pytest.approx(4)


async def test_job_slots_cancelled_waiter_frees_its_place(autojump_clock: trio.abc.Clock) -> None:
    slots = JobSlots(1)
    started: list[tuple[float, str]] = []
    peak = [0]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_job, slots, "a", started, peak)
        await trio.sleep(0.5)  # virtual time: a holds the slots, its backlog queued
        with trio.move_on_after(0.25):
            async with slots.acquire("b"):
                raise AssertionError("b must not get the slot while a holds it")
        assert slots.waiting() == 0
        nursery.start_soon(_job, slots, "c", started, peak)
    assert [c for _, c in started] == ["a", "c"]
    assert slots.running == 0
    assert peak[0] == 1


async def test_job_slots_release_on_error() -> None:
    slots = JobSlots(1)
    with pytest.raises(RuntimeError):
        async with slots.acquire("a"):
            raise RuntimeError("boom")
    assert slots.running == 0
    async with slots.acquire("a"):
        assert slots.running == 1


async def test_job_slots_report_each_wait(autojump_clock: trio.abc.Clock) -> None:
    waits: list[float] = []
    slots = JobSlots(1, on_wait=waits.append)
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(_job, slots, "a", [], [0])
    assert waits == pytest.approx([0, 1, 2])  # each job held the one slot for 1 s


async def test_job_slots_finishing_jobs_go_first(autojump_clock: trio.abc.Clock) -> None:
    slots = JobSlots(1)
    order: list[str] = []

    async def job(name: str, customer: str, *, finishing: bool = False) -> None:
        async with slots.acquire(customer, finishing=finishing):
            order.append(name)
            await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(job, "a-implement", "a")
        await trio.sleep(0.5)  # a holds the slot; b and c queue to start their tasks
        nursery.start_soon(job, "b-implement", "b")
        nursery.start_soon(job, "c-implement", "c")
        await trio.sleep(0.1)
        nursery.start_soon(functools.partial(job, "d-verify", "d", finishing=True))
        nursery.start_soon(functools.partial(job, "e-verify", "e", finishing=True))
        await trio.sleep(0.1)
        assert slots.waiting() == 4
        assert slots.waiting("d") == 1
    # the verifies queued last and are served first, round-robin among themselves
    assert order[0] == "a-implement"
    assert sorted(order[1:3]) == ["d-verify", "e-verify"]
    assert sorted(order[3:]) == ["b-implement", "c-implement"]
    assert slots.running == 0
    assert slots.waiting() == 0


async def test_job_slots_cancelled_finishing_waiter(autojump_clock: trio.abc.Clock) -> None:
    slots = JobSlots(1)
    async with slots.acquire("a"):
        with trio.move_on_after(0.25):
            async with slots.acquire("b", finishing=True):
                raise AssertionError("b must not get the slot while a holds it")
        assert slots.waiting() == 0
    async with slots.acquire("c", finishing=True):
        assert slots.running == 1
