from __future__ import annotations

import random
import socket
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

from runner.client import Backoff, RunnerClient, RunnerClientError
from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import running_service, service_settings

if TYPE_CHECKING:
    from pathlib import Path


def test_backoff_grows_exponentially_with_jitter_and_caps_at_30s() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, cap=30.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [min(30.0, 0.5 * 2**n) for n in range(12)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[8:]) <= 30.0
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 0.5


async def test_backoff_sleeps_in_virtual_time(autojump_clock: trio.testing.MockClock) -> None:
    backoff = Backoff(rng=random.Random(1))
    start = trio.current_time()
    total = 0.0
    for delay in [backoff.next_delay() for _ in range(10)]:
        await trio.sleep(delay)
        total += delay
    assert trio.current_time() - start == total
    assert total <= 0.5 + 1 + 2 + 4 + 8 + 16 + 30 * 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_client_reconnects_after_restart_and_misses_nothing(tmp_path: Path) -> None:
    settings = service_settings(tmp_path)
    stages = FakeStages()
    stages.gate("verify")
    frames: list[dict[str, object]] = []
    done = trio.Event()
    bind = f"127.0.0.1:{_free_port()}"
    client = RunnerClient(f"http://{bind}", backoff=Backoff(initial=0.05, cap=0.2))
    with trio.fail_after(60):
        async with client, trio.open_nursery() as nursery:

            async def follow() -> None:
                async with client.events(["acme"]) as stream:
                    async for frame in stream:
                        frames.append(frame)
                        if frame.get("status") == "DONE":
                            done.set()
                            return

            async with running_service(settings, stages, bind=bind):
                await client.put_customer("acme", "/srv/acme")
                nursery.start_soon(follow)
                await client.run("acme")
                await stages.entered["verify"].wait()
            # the first service is gone: the client retries until the second one answers
            async with running_service(settings, FakeStages(), bind=bind) as second:
                await _resume_when_ready(RunnerClient(second.url))
                await done.wait()
    seqs = [f["seq"] for f in frames]
    assert seqs == list(range(int(seqs[0]), int(seqs[0]) + len(seqs)))  # no gap, no duplicate
    assert frames[-1]["status"] == "DONE"
    assert "FAILED" in [f.get("status") for f in frames]  # the restart's interrupted state


async def _resume_when_ready(client: RunnerClient) -> None:
    async with client:
        state = await client.customer("acme")
        assert state["state"]["error"]["code"] == "interrupted"
        await client.transition("acme", "resume")


async def test_client_raises_the_error_body(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running_service(service_settings(tmp_path), FakeStages()) as service:
            async with RunnerClient(service.url) as client:
                with pytest.raises(RunnerClientError) as caught:
                    await client.customer("ghost")
    assert caught.value.status == 404
    assert caught.value.code == "customer_not_found"
