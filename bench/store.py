"""Benchmark the store on both engines side by side: event appends per second, ``since``.

Run: ``.venv/bin/python bench/store.py [--events N] [--postgres-url URL]``. SQLite uses a
temporary database file (WAL, synchronous=FULL, so every commit is an fsync on the
machine's real disk); PostgreSQL a throwaway server in a temp dir with ``fsync`` on (the
tests' helper), or the database at ``--postgres-url``, on loopback either way.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from runner.store import NewEvent, Store, open_postgres_store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' throwaway server
from tests.helpers.postgres import find_bin_dir, throwaway_postgres

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW = "2025-01-01T00:00:00Z"
PAYLOAD = {"type": "execution-log", "level": "info", "message": "x" * 120}


async def _sequential(store: Store, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await store.events.append("seq", "run", "execution-log", PAYLOAD, NOW)
    return count / (time.perf_counter() - start)


async def _concurrent(store: Store, tasks: int, each: int) -> float:
    async def producer(customer_id: str) -> None:
        for _ in range(each):
            await store.events.append(customer_id, "run", "execution-log", PAYLOAD, NOW)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for n in range(tasks):
            nursery.start_soon(producer, f"conc-{n}")
    return tasks * each / (time.perf_counter() - start)


async def _batched(store: Store, batches: int, size: int) -> float:
    batch = [NewEvent("batch", "run", "execution-log", PAYLOAD, NOW) for _ in range(size)]
    start = time.perf_counter()
    for _ in range(batches):
        await store.events.append_many(batch)
    return batches * size / (time.perf_counter() - start)


async def _since_latency(
    store: Store, customer_ids: list[str] | None, last: int, rounds: int
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


async def _measure(store: Store, events: int) -> dict[str, str]:
    """Fill a fresh store; return each figure formatted."""
    seq = await _sequential(store, events)
    conc = await _concurrent(store, 50, max(events // 50, 1))
    batched = await _batched(store, max(events // 100, 1), 100)
    last = await store.events.last_seq("batch")
    p50_one, p99_one = await _since_latency(store, ["batch"], last, 300)
    p50_all, p99_all = await _since_latency(store, None, last, 300)
    return {
        "append, one task, one commit each": f"{seq:8.0f} events/s",
        "append, 50 tasks (group commit)": f"{conc:8.0f} events/s",
        "append_many, batches of 100": f"{batched:8.0f} events/s",
        "since(1 customer, 100 rows) p50/p99": f"{p50_one:5.2f}/{p99_one:5.2f} ms",
        "since(all customers, 100 rows) p50/p99": f"{p50_all:5.2f}/{p99_all:5.2f} ms",
    }


@contextlib.contextmanager
def _postgres_url(given: str | None) -> Iterator[str]:
    """The given database, or a fresh one on a throwaway server."""
    if given is not None:
        yield given
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (make postgres), or pass --postgres-url")
    with throwaway_postgres(bin_dir, durable=True) as server:
        yield server.create_database()


async def main(events: int, postgres_url: str | None) -> None:
    """Fill a fresh store of each engine and print the figures side by side."""
    with tempfile.TemporaryDirectory() as tmp:
        async with open_store(Path(tmp) / "bench.db") as store:
            sqlite = await _measure(store, events)
    with _postgres_url(postgres_url) as url:
        async with open_postgres_store(url) as store:
            postgres = await _measure(store, events)
    print(f"{events} events per scenario")
    print(f"{'':40} {'sqlite':>18} {'postgresql':>18}")
    for name, figure in sqlite.items():
        print(f"{name:40} {figure:>18} {postgres[name]:>18}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--postgres-url", default=None)
    arguments = parser.parse_args()
    trio.run(main, arguments.events, arguments.postgres_url)
