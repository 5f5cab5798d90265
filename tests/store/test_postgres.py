"""What only the PostgreSQL store does: readers beside the writer, reconnecting, several
stores on one database, its errors and its password."""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

import psycopg
import pytest
import trio

from runner.errors import InsufficientStorageError, RunnerError
from runner.store import (
    CHANNEL,
    POSTGRES_MIGRATIONS,
    NewEvent,
    PostgresStore,
    Started,
    fence,
    open_postgres_store,
    open_store,
)
from runner.store.postgres import PostgresConnection
from tests.helpers.postgres import PASSWORD
from tests.store.factories import at, customer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from runner.store import Connection
    from tests.helpers.postgres import PostgresServer


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database."""
    return postgres_server.create_database()


@pytest.fixture
async def pg_store(url: str) -> AsyncIterator[PostgresStore]:
    async with open_postgres_store(url) as opened:
        yield opened


async def test_postgres_store_reads_run_beside_a_held_write(pg_store: PostgresStore) -> None:
    gate = threading.Event()
    entered = threading.Event()

    def hold(conn: Connection) -> None:
        entered.set()
        gate.wait(10)

    await pg_store.customers.upsert(customer())
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pg_store.write, hold)
            await trio.to_thread.run_sync(entered.wait, 10)
            try:
                # the writer is busy, a reader is not: this does not wait for the gate
                listed = await pg_store.customers.list()
                assert not gate.is_set()
            finally:
                gate.set()
    assert [c.customer_id for c in listed] == ["cust-a"]


def _terminate_runner_connections(url: str) -> int:
    """Kill every server process serving the runner (as a restart or a failover would)."""
    with psycopg.connect(url, autocommit=True) as admin:
        (killed,) = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'devteam-runner' AND datname = current_database()"
        ).fetchone()
    return int(killed)


async def test_postgres_store_replaces_connections_the_server_dropped(
    pg_store: PostgresStore, url: str
) -> None:
    await pg_store.customers.upsert(customer())
    assert await pg_store.customers.get("cust-a") is not None  # a reader is connected too
    assert await trio.to_thread.run_sync(_terminate_runner_connections, url) >= 2
    # the loss shows at the next BEGIN, before the job ran: the job runs on a new connection
    await pg_store.customers.upsert(customer("cust-b"))
    assert [c.customer_id for c in await pg_store.customers.list()] == ["cust-a", "cust-b"]


async def test_postgres_disk_full_is_insufficient_storage(pg_store: PostgresStore) -> None:
    def fill(conn: Connection) -> None:
        conn.execute(
            "DO $$ BEGIN RAISE EXCEPTION 'could not extend file'"
            " USING ERRCODE = 'disk_full'; END $$"
        )

    with pytest.raises(InsufficientStorageError) as excinfo:
        await pg_store.write(fill)
    assert excinfo.value.code == "insufficient_storage"
    assert excinfo.value.http_status == 507
    assert "could not extend file" in excinfo.value.message
    await pg_store.check()


async def test_postgres_store_never_shows_its_password(pg_store: PostgresStore, url: str) -> None:
    assert PASSWORD in url
    assert PASSWORD not in pg_store.describe()
    assert PASSWORD not in repr(pg_store)
    assert pg_store.describe() == url.replace(PASSWORD, "***")
    with pytest.raises(RunnerError) as excinfo:  # a driver message that quotes it
        await pg_store.read(lambda conn: conn.execute(f'SELECT * FROM "{PASSWORD}"'))
    assert excinfo.value.code == "store_error"
    assert PASSWORD not in excinfo.value.message
    assert "***" in excinfo.value.message


async def test_postgres_store_that_cannot_connect_fails_to_open(url: str) -> None:
    wrong = url.replace(PASSWORD, "not-the-password-0815")
    with pytest.raises(RunnerError) as excinfo:
        await PostgresStore.open(wrong)
    assert excinfo.value.code == "store_error"
    assert "password authentication failed" in excinfo.value.message
    assert "not-the-password-0815" not in excinfo.value.message
    closed_port = url.replace(url.split("@")[1].split("/")[0], "127.0.0.1:1")
    with pytest.raises(RunnerError) as excinfo:
        await PostgresStore.open(closed_port)
    assert excinfo.value.code == "store_error"
    assert PASSWORD not in excinfo.value.message


async def test_postgres_stores_opened_together_migrate_once(url: str) -> None:
    opened: list[list[tuple[int, str]]] = []

    async def open_and_read() -> None:
        async with open_postgres_store(url) as store:
            rows = await store.read(
                lambda conn: conn.execute("SELECT version, name FROM schema_version").fetchall()
            )
            opened.append([tuple(row) for row in rows])

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(open_and_read)
    expected = sorted((m.version, m.name) for m in POSTGRES_MIGRATIONS)
    assert [sorted(rows) for rows in opened] == [expected] * 3


async def test_postgres_store_reads_customers_another_instance_changed(url: str) -> None:
    async with open_postgres_store(url) as one, open_postgres_store(url) as other:
        await one.customers.upsert(customer())
        assert await other.customers.get("cust-a") == customer()
        moved = customer(repo_url="file:///repos/moved")
        await one.customers.upsert(moved)
        assert await other.customers.get("cust-a") == moved
        await one.customers.delete("cust-a")
        assert await other.customers.get("cust-a") is None


async def test_postgres_idempotency_key_starts_once_across_instances(url: str) -> None:
    outcomes = []
    async with open_postgres_store(url) as one, open_postgres_store(url) as other:

        async def begin(store: PostgresStore) -> None:
            outcomes.append(await store.idempotency.begin("scope", "key", "h", at(1), at(59)))

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                for n in range(10):
                    nursery.start_soon(begin, one if n % 2 else other)
    assert sum(isinstance(o, Started) for o in outcomes) == 1
    assert len(outcomes) == 10


def _sqlite_columns(path: Path) -> dict[str, set[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        conn.close()


async def test_postgres_schema_has_every_sqlite_table_and_column(
    pg_store: PostgresStore, tmp_path: Path
) -> None:
    async with open_store(tmp_path / "runner.db"):
        pass
    sqlite_tables = _sqlite_columns(tmp_path / "runner.db")
    sqlite_tables.pop("sqlite_sequence", None)  # SQLite's AUTOINCREMENT bookkeeping

    def columns(conn: Connection) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        ):
            found.setdefault(table, set()).add(column)
        return found

    postgres_tables = await pg_store.read(columns)
    # SQLite's implicit rowid is an explicit column on PostgreSQL (see postgres_migrations)
    for table in ("runs", "steps"):
        postgres_tables[table].discard("rowid")
    assert postgres_tables == sqlite_tables


async def test_postgres_url_parameters_reach_the_driver(url: str) -> None:
    async with open_postgres_store(f"{url}?application_name=runner-eu-1") as store:
        names = await store.read(
            lambda conn: conn.execute(
                "SELECT DISTINCT application_name FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        )
        assert ("runner-eu-1",) in [tuple(row) for row in names]
        # the store's keepalive defaults are there, unless the URL says otherwise
        connection = await store.read(_connection_parameters)
        assert connection["keepalives_idle"] == "10"
        assert connection["tcp_user_timeout"] == "30000"
    async with open_postgres_store(f"{url}?tcp_user_timeout=5000") as store:
        assert (await store.read(_connection_parameters))["tcp_user_timeout"] == "5000"


def _connection_parameters(conn: Connection) -> dict[str, str]:
    assert isinstance(conn, PostgresConnection)
    return dict(conn.raw.info.get_parameters())


async def test_postgres_fenced_write_keeps_its_lease_until_it_commits(url: str) -> None:
    gate = threading.Event()
    entered = threading.Event()
    async with open_postgres_store(url) as owner, open_postgres_store(url) as other:
        await owner.customers.upsert(customer("a"))
        (lease,) = await owner.leases.claim("i1", 1.0)

        def slow_fenced_write(conn: Connection) -> None:
            fence(conn, owner.dialect, lease)  # passes: the lease is still live
            entered.set()
            gate.wait(10)  # a long write; meanwhile the lease runs out

        async def expired() -> bool:
            row = await other.read(
                lambda conn: conn.execute(
                    "SELECT expires_at <= now() FROM customer_leases WHERE customer_id = 'a'"
                ).fetchone()
            )
            return bool(row[0])

        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(owner.write, slow_fenced_write)
                await trio.to_thread.run_sync(entered.wait, 10)
                try:
                    while True:
                        if await expired():
                            break
                        await trio.sleep(0.02)  # polling the database's clock
                    # expired, but its fenced write is still open: nobody may take it yet
                    assert await other.leases.claim("i2", 60.0, customer_id="a") == []
                finally:
                    gate.set()
            taken = await other.leases.claim("i2", 60.0, customer_id="a")
    assert [(t.owner, t.token) for t in taken] == [("i2", lease.token + 1)]


async def test_postgres_write_that_loses_its_connection_fails_and_the_next_reconnects(
    pg_store: PostgresStore,
) -> None:
    def upsert_then_lose_connection(conn: Connection) -> None:
        conn.execute("INSERT INTO event_seq (customer_id, last_seq) VALUES ('lost', 7)")
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(RunnerError) as excinfo:
        await pg_store.write(upsert_then_lose_connection)
    assert excinfo.value.code == "store_error"
    assert await pg_store.events.last_seq("lost") == 0  # nothing of it was kept
    assert await pg_store.events.append("lost", None, "log", {}, at(1)) == 1


async def _notify(store: PostgresStore, payload: str, *, commit: bool = True) -> None:
    def send(conn: Connection) -> None:
        conn.execute("SELECT pg_notify('runner_events', ?)", (payload,))
        if not commit:
            raise LookupError("rolled back")

    if commit:
        await store.write(send)
    else:
        with pytest.raises(LookupError):
            await store.write(send)


async def test_postgres_listen_receives_what_other_instances_commit(url: str) -> None:
    async with open_postgres_store(url) as sender, open_postgres_store(url) as receiver:
        async with receiver.listen("runner_events", "other") as notifications:
            await _notify(sender, "acme:1")
            await _notify(sender, "acme:2", commit=False)  # rolled back: never sent
            await _notify(sender, "beta:1")
            with trio.fail_after(10):
                received = [await notifications.receive() for _ in range(2)]
    assert received == ["acme:1", "beta:1"]


async def test_postgres_listen_waits_without_a_thread_and_is_cancellable(
    pg_store: PostgresStore,
) -> None:
    async with pg_store.listen("runner_events") as notifications:
        with trio.move_on_after(0.1) as scope:
            await notifications.receive()
        assert scope.cancelled_caught  # a thread in a blocking wait could not be cancelled
        await _notify(pg_store, "after")
        with trio.fail_after(10):
            async for payload in notifications:
                assert payload == "after"
                break


async def test_postgres_listen_reports_a_lost_connection(pg_store: PostgresStore, url: str) -> None:
    async with pg_store.listen("runner_events") as notifications:
        with trio.fail_after(10):
            assert await trio.to_thread.run_sync(_terminate_runner_connections, url) >= 1
            with pytest.raises(RunnerError) as excinfo:
                await notifications.receive()
    assert excinfo.value.code == "store_error"


async def test_postgres_event_appends_announce_customer_and_last_seq(
    pg_store: PostgresStore,
) -> None:
    await pg_store.customers.upsert(customer("acme"))
    async with pg_store.listen(CHANNEL) as notifications:
        await pg_store.events.append("acme", None, "execution-log", {"n": 1}, at(1))
        batch = [NewEvent(c, None, "execution-log", {"n": 2}, at(2)) for c in ("acme", "beta")]
        await pg_store.events.append_many([*batch, batch[0]])
        with trio.fail_after(10):
            received = [await notifications.receive() for _ in range(3)]
    # one per customer and transaction, with its last seq: never the event itself
    assert received == ["acme:1", "acme:3", "beta:1"]
    assert await pg_store.events.last_seqs() == {"acme": 3, "beta": 1}
