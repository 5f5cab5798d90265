"""Benchmark the SQLite store: event appends per second and ``since`` latency.

Run: ``.venv/bin/python bench/store.py [--events N]``. Uses a temporary database file
(WAL, synchronous=FULL, so every commit is an fsync on the machine's real disk).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import trio

from runner.store import NewEvent, SqliteStore, open_store

NOW = "2025-01-01T00:00:00Z"
PAYLOAD = {"type": "execution-log", "level": "info", "message": "x" * 120}


async def _sequential(store: SqliteStore, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await store.events.append("seq", "run", "execution-log", PAYLOAD, NOW)
    return count / (time.perf_counter() - start)


async def _concurrent(store: SqliteStore, tasks: int, each: int) -> float:
    async def producer(customer_id: str) -> None:
        for _ in range(each):
            await store.events.append(customer_id, "run", "execution-log", PAYLOAD, NOW)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for n in range(tasks):
            nursery.start_soon(producer, f"conc-{n}")
    return tasks * each / (time.perf_counter() - start)


async def _batched(store: SqliteStore, batches: int, size: int) -> float:
    batch = [NewEvent("batch", "run", "execution-log", PAYLOAD, NOW) for _ in range(size)]
    start = time.perf_counter()
    for _ in range(batches):
        await store.events.append_many(batch)
    return batches * size / (time.perf_counter() - start)


async def _since_latency(
    store: SqliteStore, customer_ids: list[str] | None, last: int, rounds: int
) -> tuple[float, float]:
    samples = []
    for n in range(rounds):
        after = (n * 7919) % max(last - 100, 1)
        start = time.perf_counter()
        events = await store.events.since(customer_ids, after, 100)
        samples.append((time.perf_counter() - start) * 1000)
        assert events
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def main(events: int) -> None:
    """Fill a fresh store and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        async with open_store(Path(tmp) / "bench.db") as store:
            seq = await _sequential(store, events)
            conc = await _concurrent(store, 50, max(events // 50, 1))
            batched = await _batched(store, max(events // 100, 1), 100)
            last = await store.events.last_seq("batch")
            rows = len(await store.events.since(None, 0, 10 * events))
            p50_one, p99_one = await _since_latency(store, ["batch"], last, 300)
            p50_all, p99_all = await _since_latency(store, None, last, 300)
    print(f"events in table: {rows}")
    print(f"append, one task, one commit each:   {seq:8.0f} events/s")
    print(f"append, 50 tasks (group commit):    {conc:8.0f} events/s")
    print(f"append_many, batches of 100:         {batched:8.0f} events/s")
    print(f"since(1 customer, 100 rows):  p50 {p50_one:6.2f} ms  p99 {p99_one:6.2f} ms")
    print(f"since(all customers, 100 rows): p50 {p50_all:6.2f} ms  p99 {p99_all:6.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    trio.run(main, parser.parse_args().events)
