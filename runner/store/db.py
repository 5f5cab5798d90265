"""Store: the repositories over one database, whichever engine holds it.

A store has a writer (one thread, one connection, group commit) and readers: for SQLite the
reads share the writer's thread (one connection sees every committed write in order), for
PostgreSQL a few reader threads with a connection each run reads beside the writes. The
thread and cancellation rules are in :mod:`runner.store.worker`; the engines in
:mod:`runner.store.sqlite` and :mod:`runner.store.postgres`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, TypeVar

import trio

from runner.errors import RunnerError
from runner.store.audit import AuditLog
from runner.store.customers import Customers
from runner.store.events import Events
from runner.store.idempotency import IdempotencyRecords
from runner.store.leases import Leases, current_lease, fence
from runner.store.processes import Processes
from runner.store.runs import Runs
from runner.store.skips import Skips
from runner.store.sql import STORE_ERROR
from runner.store.steps import Steps

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from runner.store.sql import Connection, Dialect
    from runner.store.worker import Worker

__all__ = ["Store", "open_until_closed"]

T = TypeVar("T")
S = TypeVar("S", bound="Store")


class Store:
    """The database: a writer thread, readers, repositories on top.

    Open one with :func:`runner.store.open_store` (SQLite) or
    :func:`runner.store.open_postgres_store`. Repositories: :attr:`customers`, :attr:`runs`,
    :attr:`events`, :attr:`idempotency`, :attr:`audit`, :attr:`steps`,
    :attr:`processes`, :attr:`skips`, :attr:`leases`.
    """

    customers: Customers
    runs: Runs
    events: Events
    idempotency: IdempotencyRecords
    audit: AuditLog
    steps: Steps
    processes: Processes
    skips: Skips
    leases: Leases

    def __init__(self, dialect: Dialect, writer: Worker, reader: Worker | None = None) -> None:
        self.dialect = dialect
        self._writer = writer
        self._reader = writer if reader is None else reader
        self._closed = False
        self.customers = Customers(self)
        self.runs = Runs(self)
        self.events = Events(self)
        self.idempotency = IdempotencyRecords(self)
        self.audit = AuditLog(self)
        self.steps = Steps(self)
        self.processes = Processes(self)
        self.skips = Skips(self)
        self.leases = Leases(self)

    async def _start(self) -> None:
        """Connect (and migrate) now, so that a bad database fails the open, not a request.

        Raises:
            RunnerError: code ``store_error`` when the database cannot be opened or migrated.
        """
        try:
            await self.write(lambda conn: None)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self.aclose()
            raise

    async def aclose(self) -> None:
        """Finish every submitted job, close the connections and stop the threads."""
        if self._closed:
            return
        self._closed = True
        await self._writer.aclose()
        if self._reader is not self._writer:
            await self._reader.aclose()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in a read transaction and return its result.

        Cancelling the caller abandons the wait; the result is dropped.
        """
        self._check_open()
        return await self._reader.run(fn, write=False)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` on the writer thread in a write transaction; return its result.

        Once submitted the write always completes (or rolls back as a whole); a cancelled
        caller waits for it and is cancelled at its next checkpoint. Inside
        :func:`~runner.store.leases.fenced` the write first checks the lease, in the same
        transaction, and is refused (``LeaseLostError``) once it is gone.

        Raises:
            LeaseLostError: the write was fenced by a lease that has expired or moved on.
        """
        self._check_open()
        lease = current_lease()
        if lease is None:
            return await self._writer.run(fn, write=True)
        dialect = self.dialect

        def fenced_write(conn: Connection) -> T:
            fence(conn, dialect, lease)
            return fn(conn)

        return await self._writer.run(fenced_write, write=True)

    async def check(self) -> None:
        """Raise unless the database takes a write (for /health; a full disk fails it).

        Raises:
            RunnerError: ``store_error``, or ``insufficient_storage`` when it is full.
        """
        await self.write(
            lambda conn: conn.execute(
                "INSERT INTO health_probe (id, writes) VALUES (1, 1)"
                " ON CONFLICT (id) DO UPDATE SET writes = health_probe.writes + 1"
            )
        )

    def _check_open(self) -> None:
        if self._closed:
            raise RunnerError("the store is closed", code=STORE_ERROR)


@contextlib.asynccontextmanager
async def open_until_closed(store: S) -> AsyncIterator[S]:
    """Start ``store`` for the duration of the block, then close it."""
    await store._start()
    try:
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()
