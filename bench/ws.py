"""WebSocket fan-out against the Python floor, measured as the service runs in production.

Three servers take turns in this process, in interleaved rounds (the machine is noisy); the
service sits between the other two in every round, so each ratio compares neighbours:

- ``service``: the service (``runner.app`` on ``runner.serve.serve_app``, 127.0.0.1) with
  the GC and malloc settings ``serve`` applies (``runner.serve.tune_gc``, ``tune_malloc``);
  synthetic ``execution-update``/``execution-log`` events go through its ``EventBus`` as
  the customer actors publish them;
- ``service+stalled``: the same, with ``--stalled`` more subscribers that never read
  (4 KiB receive buffers, flooded first so their sockets are full and their queues at
  their bound; a round whose stalled subscribers drained their queue is an error);
- ``floor``: a plain trio server, wsproto handshake, one pre-encoded frame per event, the
  publisher calling non-blocking ``sock.send`` on every socket in turn.

Each event's frame (~300 bytes) carries ``t`` = ``time.monotonic()`` at publish. The readers
are one child process: ``selectors`` (epoll) over raw sockets that did the WebSocket
handshake, parsing frame headers and finding ``"t":`` in each text frame, so the reader
costs a few microseconds a frame and is not the floor. ``time.monotonic()`` is
``CLOCK_MONOTONIC``, one clock for both processes.

``srv us/f`` is the server process's CPU time (user + system) per frame received during the
publishing window; ``cli us/f`` the reader's. Targets (issue 19): service p99 and CPU/frame
<= 1.5x the floor; with stalled subscribers, readers' p99 <= 1.2x the run without them. Each
ratio is printed pooled (every round's frames together) and per round with its median: a
p99 is one hiccup away from another, and rounds next to each other share the machine's mood.

Memory (after the fan-out, or alone with ``--only memory``): the service as ``devteam-runner
serve`` (a child process), 200 subscribers that never read, and a ``command`` tool printing
300,000 log lines in one ``/implement``; prints the service's RSS growth (and the same run
without the stalled subscribers).

Run: ``.venv/bin/python bench/ws.py [--rounds 5] [--readers 1000] [--stalled 100]``
     ``.venv/bin/python bench/ws.py --only memory [--lines 300000] [--subscribers 200]``
"""

from __future__ import annotations

import argparse
import array
import gc
import json
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._ws_memory import memory_main
from runner.actors import Event, text_frame
from runner.pipeline import PipelineStages
from runner.serve import tune_gc, tune_malloc
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

CUSTOMER = "bench"
QUIET = "quiet"
"""The customer the stalled subscribers do not follow: its events are the paired control."""
FLOOD = "flood"
PATH = f"/ws/devteam?customerId={CUSTOMER}&customerId={QUIET}"
EVENTS = 120
SETTLE_S = 1.0
"""A pause before each measured round of the service (see run_service)."""
INTERVAL_S = 0.1


def raise_nofile_limit() -> None:
    """Raise the soft open-file limit to the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _upgrade(path: str, port: int) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


# --- the reader (a child process, no trio) ---------------------------------------------------


def _connect(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_upgrade(path, port))
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {response[:200]!r}")
    sock.setblocking(False)
    return sock


def _frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Pop every complete unmasked frame (opcode, payload) off ``buffer``."""
    frames = []
    while len(buffer) >= 2:
        length, offset = buffer[1] & 0x7F, 2
        if length == 126:
            length, offset = int.from_bytes(buffer[2:4]), 4
        elif length == 127:
            length, offset = int.from_bytes(buffer[2:10]), 10
        if len(buffer) < offset + length:
            break
        frames.append((buffer[0] & 0x0F, bytes(buffer[offset : offset + length])))
        del buffer[: offset + length]
    return frames


def reader_main(port: int, count: int) -> None:
    """Open ``count`` connections, say ``ready``, read until each saw ``end``; print results."""
    sockets = [_connect(port, PATH) for _ in range(count)]
    selector = selectors.DefaultSelector()
    buffers = {sock.fileno(): bytearray() for sock in sockets}
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    print("ready", flush=True)
    chunk = bytearray(262144)  # one buffer for every recv: no allocation per frame
    view = memoryview(chunk)
    gc.disable()  # a measuring instrument: no collection pauses in the middle of a round
    latencies: list[float] = []
    quiet: list[float] = []  # the frames of QUIET (the stalled subscribers do not follow it)
    open_count = count
    cpu = time.process_time()
    while open_count:
        for key, _mask in selector.select(timeout=60):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            size = sock.recv_into(chunk)
            now = time.monotonic()
            buffer = buffers[sock.fileno()]
            buffer += view[:size]
            for opcode, payload in _frames(buffer):
                if opcode != 1:
                    continue  # ping
                at = payload.find(b'"t":')
                if at < 0:
                    continue
                end = payload.find(b",", at)
                value = payload[at + 4 : end if end > 0 else payload.find(b"}", at)]
                if value == b"-1":  # the end marker
                    selector.unregister(sock)
                    open_count -= 1
                elif b'"quiet"' in payload:
                    quiet.append(now - float(value))
                else:
                    latencies.append(now - float(value))
    cpu = time.process_time() - cpu
    for sock in sockets:
        sock.close()
    print(json.dumps({"latencies": latencies + quiet, "cpu": cpu, "followed": latencies,
                      "quiet": quiet}), flush=True)  # fmt: skip


# --- the servers -----------------------------------------------------------------------------


def _frame(i: int, t: float) -> tuple[str, str, dict[str, Any]]:
    """Event ``i``: customers alternate every two events, and kinds every event (so each
    customer gets as many logs as updates)."""
    customer = CUSTOMER if i // 2 % 2 == 0 else QUIET
    return customer, *_kind(i, t, customer)


def _kind(i: int, t: float, customer: str) -> tuple[str, dict[str, Any]]:
    if i % 2:
        return "execution-log", {"type": "execution-log", "customerId": customer, "t": t,
                                 "taskId": "1.1.1", "level": "info", "runId": "bench",
                                 "message": f"tool output line {i} " + "x" * 120,
                                 "timestamp": "2025-01-01T00:00:00Z", "seq": i}  # fmt: skip
    return "execution-update", {"type": "execution-update", "customerId": customer, "t": t,
                                "taskId": "1.1.1", "status": "IMPLEMENTING",
                                "progress": i % 100, "runId": "bench", "branch": "task/1-1-1",
                                "timestamp": "2025-01-01T00:00:00Z", "seq": i}  # fmt: skip


async def _publish(publish: Callable[[str, str, int, dict[str, Any]], None], events: int) -> float:
    """Publish the events; return the CPU time the process spent meanwhile.

    The window ends one interval after the last event (time for queued frames to drain),
    before the readers disconnect: tearing 1,000 connections down is not fan-out.
    """
    cpu = _cpu()
    start = trio.current_time()
    for i in range(events):
        await trio.sleep_until(start + i * INTERVAL_S)
        customer, kind, frame = _frame(i, time.monotonic())
        publish(customer, kind, i, frame)
    await trio.sleep(INTERVAL_S)
    cpu = _cpu() - cpu
    end = {"type": "execution-log", "customerId": CUSTOMER, "t": -1}
    publish(CUSTOMER, "execution-log", events, end)
    return cpu


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _with_reader(port: int, readers: int, run: Callable[[], Any]) -> dict[str, Any]:
    """Start the reader process, wait for ``ready``, ``await run()``; return its results."""
    command = [sys.executable, __file__, "--reader", str(port), str(readers)]
    async with trio.open_nursery() as nursery:
        process = await nursery.start(_run_reader, command)
        out = bytearray()
        assert process.stdout is not None
        with trio.fail_after(120):
            while b"ready\n" not in out:
                chunk = await process.stdout.receive_some(65536)
                if not chunk:
                    raise RuntimeError("the reader exited early")
                out += chunk
            await run()
            while chunk := await process.stdout.receive_some(1 << 20):
                out += chunk
            await process.wait()
    return dict(json.loads(bytes(out).split(b"ready\n", 1)[1]))


async def _run_reader(
    command: list[str], *, task_status: trio.TaskStatus[trio.Process] = trio.TASK_STATUS_IGNORED
) -> None:
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    task_status.started(process)


@asynccontextmanager
async def stalled_clients(port: int, count: int) -> AsyncIterator[None]:
    """Open ``count`` WebSocket connections that never read (4 KiB receive buffers)."""
    path = f"/ws/devteam?customerId={CUSTOMER}&customerId={FLOOD}"
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            socks.append(sock)
            try:
                sock.connect(("127.0.0.1", port))
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
            sock.send(_upgrade(path, port))
        yield
    finally:
        for sock in socks:
            sock.close()


async def _flood(service: Service, stalled: int) -> None:
    """Publish big logs for ``flood`` until every stalled subscriber queues (socket full)."""
    bus = service.services.bus
    first = bus.last_seq.get(FLOOD, 0) + 1  # seqs only grow, as the store's: none is sent twice
    with trio.fail_after(60):
        for i in range(first, first + 100_000):
            frame = {"type": "execution-log", "customerId": FLOOD, "seq": i, "message": "f" * 8192}
            bus.publish(Event(FLOOD, i, "execution-log", frame))
            if _all_stalled(service, stalled):
                return
            await trio.sleep(0.001)


def _all_stalled(service: Service, stalled: int) -> bool:
    """Whether every stalled subscriber has a backlog: its socket is full."""
    queued = [s for s in service.services.bus.subscribers() if s.customers and FLOOD in s.customers]
    return len(queued) == stalled and all(s.pending() or s.dropped for s in queued)


async def _wait_subscribers(service: Service, count: int) -> None:
    with trio.fail_after(60):
        while service.services.bus.subscriber_count < count:  # noqa: ASYNC110 - no event
            await trio.sleep(0.02)


async def run_service(service: Service, readers: int, stalled: int) -> dict[str, Any]:
    """One round against the service; return latencies and CPU times."""
    port = int(service.url.rsplit(":", 1)[1])
    bus = service.services.bus
    cpu = [0.0]

    # each round's seqs after the last round's
    first = {c: bus.last_seq.get(c, 0) + 1 for c in (CUSTOMER, QUIET)}

    def publish(customer: str, kind: str, seq: int, frame: dict[str, Any]) -> None:
        bus.publish(Event(customer, first[customer] + seq, kind, frame))

    async def run() -> None:
        await _wait_subscribers(service, readers + stalled)
        if stalled:
            await _flood(service, stalled)
        # Measured in the steady state, with or without stalled subscribers alike: not in
        # the wake of the flood that filled their sockets (its frames are still being
        # freed and written to the sockets that take them for a moment after).
        await trio.sleep(SETTLE_S)
        cpu[0] = await _publish(publish, EVENTS)
        if stalled and not _all_stalled(service, stalled):
            raise RuntimeError("a stalled subscriber drained its queue: it did not stall")

    async with stalled_clients(port, stalled):
        result = await _with_reader(port, readers, run)
    result["server_cpu"] = cpu[0]
    return result


async def run_floor(readers: int) -> dict[str, Any]:
    """One round against the floor: pre-encoded frame, non-blocking send per socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    socks: list[socket.socket] = []
    cpu = [0.0]

    async def accept() -> None:
        while len(socks) < readers:
            await trio.lowlevel.wait_readable(listener)
            sock, _ = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ws = WSConnection(ConnectionType.SERVER)
            while True:  # the reader sends its whole request at once
                ws.receive_data(sock.recv(65536))
                if any(isinstance(event, Request) for event in ws.events()):
                    break
            sock.sendall(ws.send(AcceptConnection()))
            sock.setblocking(False)
            socks.append(sock)

    def publish(_customer: str, _kind: str, _seq: int, frame: dict[str, Any]) -> None:
        data = text_frame(json.dumps(frame, separators=(",", ":")))
        for sock in socks:
            try:  # noqa: SIM105  # the floor: contextlib.suppress would cost a call per socket
                sock.send(data)
            except BlockingIOError:
                pass

    accepted = trio.Event()

    async def accept_all() -> None:
        await accept()
        accepted.set()

    async def run() -> None:
        await accepted.wait()
        cpu[0] = await _publish(publish, EVENTS)

    with listener:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept_all)
            result = await _with_reader(port, readers, run)
    result["server_cpu"] = cpu[0]
    for sock in socks:
        sock.close()
    return result


def _p99(latencies: Any) -> float:
    ms = sorted(x * 1000 for x in latencies)
    return ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan")


def _stats(result: dict[str, Any]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in result["latencies"])
    frames = len(ms)
    return {
        "frames": frames,
        "p50": ms[frames // 2],
        "p99": ms[min(frames - 1, int(frames * 0.99))],
        "max": ms[-1],
        "srv": result["server_cpu"] / frames * 1e6,
        "cli": result["cpu"] / frames * 1e6,
        "p99 followed": _p99(result["followed"]),
        "p99 quiet": _p99(result["quiet"]),
    }


def _row(name: str, round_no: int, stats: dict[str, float]) -> str:
    times = " ".join(f"{stats[key]:8.2f}" for key in ("p50", "p99", "max"))
    cpu = " ".join(f"{stats[key]:8.1f}" for key in ("srv", "cli"))
    return f"{name:17s} {round_no:5d} {stats['frames']:7.0f} {times} {cpu}"


async def server_main(rounds: int, readers: int, stalled: int) -> None:
    """Run the interleaved rounds; print every row, then the pooled rows and the ratios."""
    names = ("floor", "service", "service+stalled")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    pooled = {name: {"latencies": array.array("d"), "cpu": 0.0, "server_cpu": 0.0,
                     "followed": array.array("d"), "quiet": array.array("d")}
              for name in names}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        settings = service_settings(Path(tmp), ws_ping_interval_s=60.0)
        async with running_service(settings, PipelineStages()) as service:
            tune_malloc()  # what `devteam-runner serve` does first
            tune_gc()  # and once the service has started
            await run_service(service, 10, 0)  # warm up
            await run_floor(10)
            print(
                f"{readers} readers (one epoll reader process), {EVENTS} events every "
                f"{INTERVAL_S * 1000:.0f} ms; stalled: {stalled}; GC tuned as `serve` does"
            )
            print("server            round  frames   p50 ms   p99 ms   max ms  srv us/f cli us/f")
            for round_no in range(1, rounds + 1):
                for name in names if round_no % 2 else names[::-1]:  # no seat is favoured
                    if name == "floor":
                        result = await run_floor(readers)
                    else:
                        count = stalled if name == "service+stalled" else 0
                        result = await run_service(service, readers, count)
                    results[name].append(_stats(result))
                    print(_row(name, round_no, results[name][-1]), flush=True)
                    for key in ("latencies", "followed", "quiet"):
                        pooled[name][key].extend(result[key])
                    pooled[name]["cpu"] += result["cpu"]
                    pooled[name]["server_cpu"] += result["server_cpu"]
    print("pooled over the rounds:")
    total = {name: _stats(pool) for name, pool in pooled.items()}
    for name, stats in total.items():
        print(_row(name, 0, stats))
    stalled_label = f"with {stalled} stalled/without, readers' p99"
    paired = "readers' p99 on events {} stalled follow / on those they do not, same round"
    ratios = {
        "service/floor p99": ("service", "p99", "floor", "p99", 1.5),
        "service/floor CPU per frame": ("service", "srv", "floor", "srv", 1.5),
        stalled_label: ("service+stalled", "p99", "service", "p99", 1.2),
        paired.format(stalled): (
            "service+stalled",
            "p99 followed",
            "service+stalled",
            "p99 quiet",
            1.2,
        ),
        "  the same split without stalled subscribers (the control)": (
            "service",
            "p99 followed",
            "service",
            "p99 quiet",
            None,
        ),
    }
    for label, (a, key_a, b, key_b, target) in ratios.items():
        per_round = [x[key_a] / y[key_b] for x, y in zip(results[a], results[b], strict=True)]
        listed = " ".join(f"{r:.2f}" for r in per_round)
        goal = f" (target <= {target}x)" if target else ""
        print(
            f"{label}: pooled {total[a][key_a] / total[b][key_b]:.2f}x, median of rounds "
            f"{statistics.median(per_round):.2f}x{goal}; rounds {listed}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--stalled", type=int, default=100)
    parser.add_argument(
        "--only", choices=("fanout", "memory"), help="one scenario (default: both, in turn)"
    )
    parser.add_argument("--lines", type=int, default=300_000, help="memory: log lines")
    parser.add_argument("--subscribers", type=int, default=200, help="memory: stalled ones")
    parser.add_argument("--reader", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_nofile_limit()
    if args.reader:
        reader_main(*args.reader)
        return
    started = time.perf_counter()
    if args.only in (None, "fanout"):
        trio.run(server_main, args.rounds, args.readers, args.stalled)
    if args.only in (None, "memory"):
        memory_main(args.lines, args.subscribers)
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
