"""WebSocket fan-out: publish-to-receipt latency p50/p99 at 1, 100 and 1,000 subscribers.

Goal: p99 <= 20 ms at 1,000 subscribers, and the readers unaffected by 100 stalled ones.

The service runs in this process (the app of ``runner.app`` on Hypercorn, 127.0.0.1), and
synthetic ``execution-update``/``execution-log`` events go through its ``EventBus`` exactly
as the customer actors publish them, each frame carrying ``t`` = ``time.monotonic()`` at
publish. The readers are real ``trio_websocket`` clients in ``--procs`` child processes
(default 1, so the server and the clients each get a core); a reader takes
``time.monotonic()`` when a frame arrives. On Linux ``time.monotonic()`` is
``CLOCK_MONOTONIC``, one clock for every process, so the two readings compare.

A stalled subscriber is a raw socket that completes the WebSocket upgrade request with a
4 KiB receive buffer and never reads. It follows the measured customer plus a ``flood``
customer that is sent ~2 MB of logs first, so its kernel buffers are full and its server
queue is at its bound (dropping logs) during the measurement.

Columns: ``srv us/f`` and ``cli us/f`` are the CPU time of the server process (service and
publisher) and of the reader processes per frame received. ``--raw`` swaps the readers for a
minimal hand-rolled WebSocket reader (to see the server's share); ``--gc-tune`` freezes the
server's start-up objects and raises the GC thresholds (garbage collection was about half of
the server's CPU time at 1,000 subscribers).

Run: ``.venv/bin/python bench/ws.py [--procs N] [--raw] [--gc-tune] [--quick]``
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio
from trio_websocket import open_websocket_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.actors import Event
from runner.pipeline import PipelineStages
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

CUSTOMER = "bench"
FLOOD = "flood"
CONNECT_CONCURRENCY = 32
# (readers, stalled, events, interval between events in ms)
SCENARIOS = ((1, 0, 300, 10), (100, 0, 100, 50), (1000, 0, 30, 500), (1000, 100, 30, 500))


def raise_nofile_limit() -> int:
    """Raise the soft open-file limit to the hard limit; return the new soft limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- the client side (a child process) -----------------------------------------------------


async def _reader(
    url: str, gate: trio.Semaphore, on_connected: Callable[[], None], latencies: list[float]
) -> None:
    await gate.acquire()
    async with open_websocket_url(url) as ws:
        gate.release()
        on_connected()
        while True:
            message = await ws.get_message()
            now = time.monotonic()
            frame = json.loads(message)
            if frame.get("end"):
                return
            latencies.append(now - frame["t"])


async def _raw_reader(
    url: str, gate: trio.Semaphore, on_connected: Callable[[], None], latencies: list[float]
) -> None:
    """A minimal hand-rolled WebSocket reader (``--raw``): isolates the server's share."""
    host, port, target = _split(url)
    await gate.acquire()
    stream = await trio.open_tcp_stream(host, port)
    await stream.send_all(_upgrade(target, host, port))
    buffer = bytearray()
    while b"\r\n\r\n" not in buffer:
        buffer += await stream.receive_some(65536)
    del buffer[: buffer.index(b"\r\n\r\n") + 4]
    gate.release()
    on_connected()
    async with stream:
        while True:
            while (frame := _unframe(buffer)) is None:
                buffer += await stream.receive_some(65536)
            now = time.monotonic()
            if frame[0] != 1:
                continue  # not a text frame (a ping)
            event = json.loads(frame[1])
            if event.get("end"):
                return
            latencies.append(now - event["t"])


def _split(url: str) -> tuple[str, int, str]:
    netloc, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = netloc.partition(":")
    return host, int(port), "/" + path


def _upgrade(target: str, host: str, port: int) -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _unframe(buffer: bytearray) -> tuple[int, bytes] | None:
    """Pop one unmasked server frame (opcode, payload) off ``buffer`` (None: incomplete)."""
    if len(buffer) < 2:
        return None
    length, offset = buffer[1] & 0x7F, 2
    if length == 126:
        length, offset = int.from_bytes(buffer[2:4]), 4
    elif length == 127:
        length, offset = int.from_bytes(buffer[2:10]), 10
    if len(buffer) < offset + length:
        return None
    frame = buffer[0] & 0x0F, bytes(buffer[offset : offset + length])
    del buffer[: offset + length]
    return frame


async def client_main(url: str, count: int, raw: bool) -> None:
    """Open ``count`` readers, say ``ready``, then print their latencies as JSON at the end."""
    latencies: list[float] = []
    gate = trio.Semaphore(CONNECT_CONCURRENCY)
    connected = 0
    cpu = 0.0

    def on_connected() -> None:
        nonlocal connected, cpu
        connected += 1
        if connected == count:
            gc.collect()  # the bench client's own garbage must not pause its receipts
            gc.freeze()
            cpu = time.process_time()
            print("ready", flush=True)

    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                reader = _raw_reader if raw else _reader
                nursery.start_soon(reader, url, gate, on_connected, latencies)
    cpu = time.process_time() - cpu
    print(json.dumps({"latencies": latencies, "cpu": cpu}), flush=True)


# --- the server side -----------------------------------------------------------------------


async def _collect(process: trio.Process, ready: trio.Event, out: bytearray) -> None:
    assert process.stdout is not None
    while chunk := await process.stdout.receive_some(1 << 20):
        out += chunk
        if not ready.is_set() and b"ready\n" in out:
            ready.set()
    if not ready.is_set():
        raise RuntimeError(f"a client process exited early: {bytes(out[-500:])!r}")


@asynccontextmanager
async def stalled_clients(port: int, count: int) -> AsyncIterator[list[trio.SocketStream]]:
    """Open ``count`` WebSocket connections that never read (4 KiB receive buffers)."""
    request = (
        f"GET /ws/devteam?customerId={CUSTOMER}&customerId={FLOOD} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    streams: list[trio.SocketStream] = []
    try:
        for _ in range(count):
            sock = trio.socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            await sock.connect(("127.0.0.1", port))
            stream = trio.SocketStream(sock)
            streams.append(stream)
            await stream.send_all(request)
        yield streams
    finally:
        for stream in streams:
            stream.socket.close()


def _frame(i: int) -> tuple[str, dict[str, Any]]:
    if i % 2:
        return "execution-log", {"type": "execution-log", "customerId": CUSTOMER,
                                 "taskId": "1.1.1", "level": "info", "runId": "bench",
                                 "message": f"tool output line {i} " + "x" * 120,
                                 "timestamp": "2025-01-01T00:00:00Z"}  # fmt: skip
    return "execution-update", {"type": "execution-update", "customerId": CUSTOMER,
                                "taskId": "1.1.1", "status": "IMPLEMENTING",
                                "progress": i % 100, "runId": "bench", "branch": "task/1-1-1",
                                "timestamp": "2025-01-01T00:00:00Z"}  # fmt: skip


async def _publish(service: Service, events: int, interval: float) -> None:
    bus = service.services.bus
    start = trio.current_time()
    for i in range(events):
        await trio.sleep_until(start + i * interval)
        kind, frame = _frame(i)
        frame.update(seq=i, t=time.monotonic())
        bus.publish(Event(CUSTOMER, i, kind, frame))
    await trio.sleep(interval)
    end = {"type": "execution-log", "customerId": CUSTOMER, "end": True, "seq": events}
    bus.publish(Event(CUSTOMER, events, "execution-log", end))


async def _flood(service: Service) -> None:
    """Fill the stalled clients' kernel buffers and server queues (readers do not follow it)."""
    bus = service.services.bus
    for i in range(1000):
        frame = {"type": "execution-log", "customerId": FLOOD, "seq": i, "message": "f" * 2048}
        bus.publish(Event(FLOOD, i, "execution-log", frame))
        if i % 50 == 0:
            await trio.sleep(0.01)
    await trio.sleep(0.5)


def _stalled_backlog(service: Service) -> tuple[int, int]:
    """Return (queued, dropped) summed over the subscribers following ``flood``."""
    subscribers = service.services.bus._subscribers.values()  # bench-only peek
    stalled = [s for s in subscribers if s.customers and FLOOD in s.customers]
    return sum(s.pending() for s in stalled), sum(s.dropped for s in stalled)


async def _wait_subscribers(service: Service, count: int) -> None:
    with trio.fail_after(30):
        while service.services.bus.subscriber_count < count:  # noqa: ASYNC110 - no event
            await trio.sleep(0.02)


@attrs.frozen
class Options:
    """How to run the scenarios."""

    procs: int = 1
    raw: bool = False
    quick: bool = False
    gc_tune: bool = False


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _start_readers(
    nursery: trio.Nursery, url: str, readers: int, options: Options
) -> list[tuple[trio.Process, bytearray]]:
    procs = min(options.procs, readers)
    shares = [readers // procs + (1 if k < readers % procs else 0) for k in range(procs)]
    started = []
    for share in shares:
        command = [sys.executable, __file__, "--client", url, str(share)]
        process = await trio.lowlevel.open_process(
            [*command, *(["--raw"] if options.raw else [])], stdout=subprocess.PIPE
        )
        out = bytearray()
        started.append((process, out))
        ready = trio.Event()
        nursery.start_soon(_collect, process, ready, out)
        with trio.fail_after(60):
            await ready.wait()
    return started


async def scenario(
    service: Service, readers: int, stalled: int, events: int, interval: float, options: Options
) -> dict[str, Any]:
    """Run one scenario; return the merged latencies, CPU times and the stalled backlog."""
    url = f"{service.ws_url}/ws/devteam?customerId={CUSTOMER}"
    port = int(service.url.rsplit(":", 1)[1])
    backlog = (0, 0)
    async with stalled_clients(port, stalled), trio.open_nursery() as nursery:
        started = await _start_readers(nursery, url, readers, options)
        await _wait_subscribers(service, readers + stalled)
        if stalled:
            await _flood(service)
        cpu = _cpu()
        await _publish(service, events, interval)
        with trio.fail_after(60):
            for process, _out in started:
                await process.wait()
        cpu = _cpu() - cpu
        if stalled:
            backlog = _stalled_backlog(service)
    latencies: list[float] = []
    client_cpu = 0.0
    for _process, out in started:
        result = json.loads(bytes(out).split(b"ready\n", 1)[1])
        latencies += result["latencies"]
        client_cpu += result["cpu"]
    return {"latencies": latencies, "backlog": backlog, "cpu": (cpu, client_cpu)}


def _row(readers: int, stalled: int, events: int, interval: float, result: dict[str, Any]) -> str:
    ms = sorted(x * 1000 for x in result["latencies"])
    expected = readers * events
    if not ms:
        return f"{readers:7d} {stalled:7d} {events:6d}  no frames received"
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    queued, dropped = result["backlog"]
    server_us, client_us = (x / len(ms) * 1e6 for x in result["cpu"])
    return (f"{readers:7d} {stalled:7d} {events:6d} {1 / interval:5.0f} {len(ms):7d}/{expected:<7d}"
            f"{p50:8.2f} {p99:8.2f} {ms[-1]:8.2f} {server_us:7.0f} {client_us:7.0f}"
            f"   {queued}/{dropped}")  # fmt: skip


async def server_main(options: Options) -> None:
    """Run the service in-process and every scenario against it; print the table."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = service_settings(Path(tmp), ws_ping_interval_s=60.0)
        async with running_service(settings, PipelineStages()) as service:
            await scenario(service, 10, 0, 20, 0.005, options)  # warm up
            if options.gc_tune:  # what the service could do at start-up
                gc.collect()
                gc.freeze()
                gc.set_threshold(50_000, 20, 100)
            client = "hand-rolled raw-socket" if options.raw else "trio_websocket"
            print(f"server in-process on {service.url} (gc tuned: {options.gc_tune}); "
                  f"{client} readers in {options.procs} child process(es); "
                  "stalled subscribers: raw sockets in the server's process")  # fmt: skip
            print("readers stalled events  ev/s  frames recv/expected  p50 ms   p99 ms   max ms"
                  "  srv us/f cli us/f  stalled queued/dropped")  # fmt: skip
            for readers, stalled, events, interval_ms in SCENARIOS:
                count = max(10, events // 5) if options.quick else events
                interval = interval_ms / 1000
                result = await scenario(service, readers, stalled, count, interval, options)
                print(_row(readers, stalled, count, interval, result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=1, help="child processes for the readers")
    parser.add_argument("--raw", action="store_true", help="minimal raw-socket readers")
    parser.add_argument("--quick", action="store_true", help="a fifth of the events")
    parser.add_argument(
        "--gc-tune", action="store_true", help="gc.freeze() + gc.set_threshold(50000, 20, 100)"
    )
    parser.add_argument("--client", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_nofile_limit()
    if args.client:
        trio.run(client_main, args.client[0], int(args.client[1]), args.raw)
    else:
        started = time.perf_counter()
        options = Options(procs=args.procs, raw=args.raw, quick=args.quick, gc_tune=args.gc_tune)
        trio.run(server_main, options)
        print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
