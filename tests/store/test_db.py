"""The store on either engine: migrations, restart, cancellation, concurrency, errors.

SQLite's own behaviour (pragmas, the file, one thread for reads and writes in order) is at
the end; PostgreSQL's own is in test_postgres.py.
"""

from __future__ import annotations

import sqlite3
import threading
from functools import partial
from typing import TYPE_CHECKING

import psycopg
import pytest
import trio
import trio.testing

from runner.errors import RunnerError
from runner.store import MIGRATIONS, Migration, NewEvent, SqliteStore, open_store
from runner.store.migrations import apply_migrations
from runner.store.sqlite import SQLITE, SqliteConnection
from tests.store.factories import at, customer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from runner.store import Connection, Store
    from tests.store.conftest import Database


def _versions(conn: Connection) -> list[tuple[int, str]]:
    rows = conn.execute("SELECT version, name FROM schema_version ORDER BY version")
    return [(int(version), str(name)) for version, name in rows]


def _block_until(gate: threading.Event) -> None:
    """A store job that holds its thread until ``gate`` is set."""
    gate.wait(10)


async def _hold_writer(
    store: Store, gate: threading.Event, *, task_status: trio.TaskStatus[None]
) -> None:
    """Hold the writer thread until ``gate`` is set: later writes queue behind it.

    Started once the writer runs the holding job, so no later write joins its batch.
    """
    entered = threading.Event()

    def hold(conn: Connection) -> None:
        entered.set()
        _block_until(gate)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.write, hold)
        await trio.to_thread.run_sync(entered.wait, 10)
        task_status.started()


async def test_store_migrations_apply_once_and_reopen_is_idempotent(database: Database) -> None:
    async with database.open() as store:
        first = await store.read(_versions)
        expected = [(m.version, m.name) for m in store.dialect.migrations]
    async with database.open() as store:
        second = await store.read(_versions)
    assert first == second == expected


async def test_store_refuses_a_newer_schema(database: Database) -> None:
    async with database.open() as store:
        await store.write(
            lambda conn: conn.execute("INSERT INTO schema_version VALUES (999, 'future')")
        )
    with pytest.raises(RunnerError) as excinfo:
        async with database.open():
            pass
    assert excinfo.value.code == "store_schema_too_new"


async def test_store_data_survives_close_and_reopen(database: Database) -> None:
    async with database.open() as store:
        await store.customers.upsert(customer())
        await store.customers.save_state("cust-a", {"status": "PAUSED"}, at(5))
        await store.events.append("cust-a", None, "execution-log", {"n": 1}, at(5))
    async with database.open() as store:
        assert await store.customers.get("cust-a") == customer()
        assert await store.customers.load_state("cust-a") == {"status": "PAUSED"}
        assert await store.events.append("cust-a", None, "execution-log", {"n": 2}, at(6)) == 2


async def test_store_job_error_rolls_back_the_whole_write(store: Store) -> None:
    events = [
        NewEvent("cust-a", None, "execution-log", {"n": 1}, at(1)),
        NewEvent("cust-a", None, "execution-log", {"n": object()}, at(2)),  # not JSON
    ]
    with pytest.raises(TypeError):
        await store.events.append_many(events)
    assert await store.events.last_seq("cust-a") == 0
    assert await store.events.since(None, 0, 10) == []


async def test_store_driver_errors_become_store_errors(store: Store) -> None:
    with pytest.raises(RunnerError) as excinfo:
        await store.read(lambda conn: conn.execute("SELECT * FROM missing_table"))
    assert excinfo.value.code == "store_error"
    assert "missing_table" in excinfo.value.message
    assert isinstance(excinfo.value.__cause__, (sqlite3.OperationalError, psycopg.Error))
    await store.check()  # the connection is still usable
    with pytest.raises(RunnerError) as excinfo:
        await store.write(lambda conn: conn.execute("INSERT INTO missing_table VALUES (1)"))
    assert excinfo.value.code == "store_error"
    await store.customers.upsert(customer())  # and so is the writer's


async def test_store_cancelled_write_still_commits_completely(store: Store) -> None:
    gate = threading.Event()
    batch = [NewEvent("cust-a", "run-1", "execution-log", {"n": n}, at(1)) for n in range(100)]
    stored: list[int] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(_hold_writer, store, gate)
            scope = trio.CancelScope()

            async def append() -> None:
                with scope:
                    records = await store.events.append_many(batch)
                    stored.extend(r.seq for r in records)
                    await trio.lowlevel.checkpoint()  # the cancel is delivered here
                    stored.append(-1)  # never reached

            nursery.start_soon(append)
            await trio.testing.wait_all_tasks_blocked()
            try:
                scope.cancel()
                await trio.testing.wait_all_tasks_blocked()
                assert stored == []  # still waiting: the write is queued behind the gate
            finally:
                gate.set()
    assert scope.cancelled_caught
    assert stored == list(range(1, 101))
    assert [e.payload["n"] for e in await store.events.since(["cust-a"], 0, 200)] == list(
        range(100)
    )


async def test_store_cancelled_read_returns_at_once(store: Store) -> None:
    gate = threading.Event()
    try:
        with trio.fail_after(5), trio.move_on_after(0.05) as scope:
            await store.read(lambda conn: _block_until(gate))
        assert scope.cancelled_caught
        assert not gate.is_set()  # we did not wait for the blocked thread
    finally:
        gate.set()
    await store.customers.upsert(customer())
    assert [c.customer_id for c in await store.customers.list()] == ["cust-a"]


async def test_store_is_usable_from_many_concurrent_tasks(store: Store) -> None:
    customers = [f"cust-{i}" for i in range(20)]
    seen: dict[str, list[int]] = {c: [] for c in customers}

    async def worker(customer_id: str) -> None:
        await store.customers.upsert(customer(customer_id))
        for n in range(10):
            seq = await store.events.append(customer_id, None, "execution-log", {"n": n}, at(n))
            seen[customer_id].append(seq)
            assert (await store.customers.get(customer_id)) is not None

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for customer_id in customers:
                nursery.start_soon(worker, customer_id)
    assert all(seqs == list(range(1, 11)) for seqs in seen.values())
    assert len(await store.customers.list()) == 20
    assert len(await store.events.since(None, 0, 1000)) == 200


async def test_store_rejects_calls_after_close(database: Database) -> None:
    async with database.open() as store:
        pass
    await store.aclose()  # idempotent
    for call in (store.check, store.customers.list):
        with pytest.raises(RunnerError) as excinfo:
            await call()
        assert excinfo.value.code == "store_error"


async def test_store_close_finishes_submitted_writes(database: Database) -> None:
    with trio.fail_after(10):
        async with database.open() as store, trio.open_nursery() as nursery:
            for n in range(20):
                nursery.start_soon(store.events.append, "cust-a", None, "log", {"n": n}, at(1))
            await trio.testing.wait_all_tasks_blocked()
            await store.aclose()
    async with database.open() as reopened:
        assert await reopened.events.last_seq("cust-a") == 20


def _set_seq(customer_id: str, seq: int, *, fail: bool = False) -> Callable[[Connection], int]:
    """Return a write job that sets a customer's seq counter (and then fails, if asked)."""

    def job(conn: Connection) -> int:
        conn.execute("INSERT INTO event_seq VALUES (?, ?)", (customer_id, seq))
        if fail:
            raise LookupError("boom")
        return seq

    return job


async def test_store_group_commit_rolls_back_only_the_failing_write(store: Store) -> None:
    gate = threading.Event()
    outcomes: dict[str, object] = {}

    async def submit(name: str, job: Callable[[Connection], int]) -> None:
        try:
            outcomes[name] = await store.write(job)
        except LookupError as exc:
            outcomes[name] = exc

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(_hold_writer, store, gate)
            try:
                # queued behind the held thread, so they run as one batch, in this order
                for name, job in [
                    ("x", _set_seq("x", 1)),
                    ("y", _set_seq("y", 5, fail=True)),
                    ("z", _set_seq("z", 3)),
                ]:
                    nursery.start_soon(submit, name, job)
                    await trio.testing.wait_all_tasks_blocked()
            finally:
                gate.set()
    assert outcomes["x"] == 1
    assert isinstance(outcomes["y"], LookupError)
    assert outcomes["z"] == 3
    assert await store.events.last_seq("x") == 1
    assert await store.events.last_seq("y") == 0  # rolled back to its savepoint alone
    assert await store.events.last_seq("z") == 3


def _abort_transaction(conn: Connection) -> int:
    """A write job whose failure ends the whole transaction (like SQLITE_FULL does)."""
    conn.execute("ROLLBACK")
    return 0


async def test_store_write_that_ends_its_own_transaction_fails(store: Store) -> None:
    def set_then_abort(conn: Connection) -> int:
        _set_seq("x", 1)(conn)
        return _abort_transaction(conn)

    with pytest.raises(RunnerError) as excinfo:
        await store.write(set_then_abort)
    assert excinfo.value.code == "store_error"
    assert await store.events.last_seq("x") == 0


async def test_store_group_commit_failure_fails_every_write_of_the_batch(store: Store) -> None:
    gate = threading.Event()
    errors: dict[str, str] = {}

    async def submit(name: str, job: Callable[[Connection], int]) -> None:
        with pytest.raises(RunnerError) as excinfo:
            await store.write(job)
        errors[name] = excinfo.value.code

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(_hold_writer, store, gate)
            try:
                for name, job in [("x", _set_seq("x", 1)), ("abort", _abort_transaction)]:
                    nursery.start_soon(submit, name, job)
                    await trio.testing.wait_all_tasks_blocked()
            finally:
                gate.set()
    assert errors == {"x": "store_error", "abort": "store_error"}
    assert await store.events.last_seq("x") == 0  # nothing of the batch was kept
    assert await store.events.append("x", None, "log", {}, at(1)) == 1  # and the store works


# --- SQLite only --------------------------------------------------------------------------


@pytest.fixture
async def sqlite_store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """A store on a fresh SQLite file (for what only SQLite does)."""
    async with open_store(db_path) as opened:
        yield opened


async def test_sqlite_store_sets_wal_full_sync_and_foreign_keys(sqlite_store: SqliteStore) -> None:
    assert await sqlite_store.pragma("journal_mode") == "wal"
    assert await sqlite_store.pragma("synchronous") == 2  # FULL
    assert await sqlite_store.pragma("foreign_keys") == 1
    assert await sqlite_store.pragma("busy_timeout") == 5000
    with pytest.raises(ValueError, match="not a pragma"):
        await sqlite_store.pragma("journal_mode; DROP TABLE runs")


async def test_sqlite_store_creates_missing_parent_directory(db_path: Path) -> None:
    assert not await trio.Path(db_path.parent).exists()
    async with open_store(db_path) as store:
        await store.check()
    assert await trio.Path(db_path).is_file()


async def test_sqlite_store_open_failure_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    await trio.Path(blocker).write_text("not a directory")
    with pytest.raises(RunnerError) as excinfo:
        await SqliteStore.open(blocker / "runner.db")
    assert excinfo.value.code == "store_error"


def test_apply_migrations_runs_only_pending_ones_in_one_transaction(tmp_path: Path) -> None:
    conn = SqliteConnection(sqlite3.connect(tmp_path / "m.db", isolation_level=None))
    try:
        known = [m.version for m in MIGRATIONS]
        assert apply_migrations(conn, SQLITE) == known
        assert apply_migrations(conn, SQLITE) == []
        last = known[-1]
        notes = Migration(last + 1, "notes", ("CREATE TABLE notes (id INTEGER)",))
        extra = (*MIGRATIONS, notes)
        assert apply_migrations(conn, SQLITE, extra) == [last + 1]
        broken = (
            *extra,
            Migration(
                last + 2, "half", ("CREATE TABLE half (id INTEGER)", "CREATE TABLE broken (")
            ),
        )
        with pytest.raises(sqlite3.OperationalError):
            apply_migrations(conn, SQLITE, broken)
        assert [v for v, _ in _versions(conn)] == [*known, last + 1]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "notes" in tables
        assert "half" not in tables
    finally:
        conn.close()


async def test_sqlite_store_read_queued_between_writes_sees_only_earlier_ones(
    sqlite_store: SqliteStore,
) -> None:
    # One thread runs SQLite's reads and writes in submission order (PostgreSQL's readers
    # run beside the writer, see test_postgres.py).
    store = sqlite_store
    gate = threading.Event()
    seen: list[int] = []

    async def read_last_seq() -> None:
        seen.append(await store.events.last_seq("a"))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.read, lambda conn: _block_until(gate))
            await trio.testing.wait_all_tasks_blocked()
            try:
                for start in (
                    partial(store.events.append, "a", None, "log", {}, at(1)),
                    read_last_seq,
                    partial(store.events.append, "a", None, "log", {}, at(2)),
                ):
                    nursery.start_soon(start)
                    await trio.testing.wait_all_tasks_blocked()
            finally:
                gate.set()
    assert seen == [1]
    assert await store.events.last_seq("a") == 2
