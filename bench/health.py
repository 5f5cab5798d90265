"""GET /health latency (p50/p99) at 1, 50 and 200 concurrent keep-alive clients.

Goal: p99 <= 10 ms at 50 clients. The service runs in its own process; the clients are raw
HTTP/1.1 keep-alive connections on trio so that client overhead stays small.
Run: .venv/bin/python bench/health.py [--requests N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import served

REQUEST = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"


class _ClosedError(Exception):
    """The server closed the keep-alive connection (Hypercorn: keep_alive_max_requests)."""


async def _receive(stream: trio.SocketStream) -> bytes:
    data = await stream.receive_some(65536)
    if not data:
        raise _ClosedError
    return data


async def _read_response(stream: trio.SocketStream, buffer: bytearray) -> None:
    while b"\r\n\r\n" not in buffer:
        buffer += await _receive(stream)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    body = bytearray(rest)
    while len(body) < length:
        body += await _receive(stream)
    buffer[:] = body[length:]


async def _client(port: int, count: int, latencies: list[float]) -> None:
    done = 0
    while done < count:  # reconnect when the server ends a keep-alive connection
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        buffer = bytearray()
        async with stream:
            try:
                while done < count:
                    started = time.perf_counter()
                    await stream.send_all(REQUEST)
                    await _read_response(stream, buffer)
                    latencies.append(time.perf_counter() - started)
                    done += 1
            except (_ClosedError, trio.BrokenResourceError):
                continue


async def measure(port: int, clients: int, total: int) -> list[float]:
    """Return the latencies of ``total`` requests spread over ``clients`` connections."""
    latencies: list[float] = []
    per_client = max(1, total // clients)
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(_client, port, per_client, latencies)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    with served() as url:
        port = int(url.rsplit(":", 1)[1])
        trio.run(measure, port, 10, 500)  # warm up
        print("clients  requests   p50 ms   p99 ms   req/s")
        for clients in (1, 50, 200):
            started = time.perf_counter()
            latencies = trio.run(measure, port, clients, args.requests)
            elapsed = time.perf_counter() - started
            ms = sorted(x * 1000 for x in latencies)
            p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
            print(f"{clients:7d} {len(ms):9d} {statistics.median(ms):8.2f} {p99:8.2f} "
                  f"{len(ms) / elapsed:7.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
