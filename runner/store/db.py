"""SqliteStore: one SQLite connection, owned by one dedicated thread.

aiosqlite only runs under asyncio, so we do what it does inside ourselves: a
``threading.Thread`` consumes a ``queue.Queue`` of jobs and is the only thread that ever
touches the connection. An async caller submits a callable and sleeps until the thread
hands the result back through the Trio token (``run_sync_soon``); nothing polls.

Every job is atomic: a read runs in its own transaction; writes queued together share one
``BEGIN IMMEDIATE`` transaction (group commit: one fsync for the lot), each under its own
savepoint, so a job either commits completely or not at all, and no caller hears of its
write before the COMMIT. Jobs run in submission order, so a later call always sees the
effect of an earlier one. Cancellation:

* a **write** that has been submitted always completes; the cancelled caller waits for it
  (like ``trio.to_thread.run_sync``) and sees ``Cancelled`` at its next checkpoint, so
  "persist, then publish" code never persists without returning;
* a **read** is abandoned at once; its result is dropped when the thread gets to it.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import outcome
import trio

from runner.errors import InsufficientStorageError, RunnerError
from runner.store.audit import AuditLog
from runner.store.customers import Customers
from runner.store.events import Events
from runner.store.idempotency import IdempotencyRecords
from runner.store.migrations import apply_migrations
from runner.store.processes import Processes
from runner.store.runs import Runs
from runner.store.skips import Skips
from runner.store.steps import Steps

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

__all__ = ["STORE_ERROR", "SqliteStore", "open_store"]

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
MAX_WRITE_BATCH = 64
"""The most queued writes committed together in one transaction (group commit)."""
STORE_ERROR = "store_error"
"""The ``RunnerError.code`` of every database failure (I/O, constraint, closed store)."""


@attrs.define(eq=False)
class _Job:
    """One unit of work for the store thread and the way back to its caller."""

    fn: Callable[[sqlite3.Connection], Any]
    write: bool
    task: trio.lowlevel.Task
    token: trio.lowlevel.TrioToken
    abandoned: bool = False


def _run_in_transaction(conn: sqlite3.Connection, job: _Job) -> Any:
    """Run ``job.fn`` inside one transaction; roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE" if job.write else "BEGIN DEFERRED")
    try:
        result = job.fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT may or may not have ended the transaction
            conn.rollback()
        raise
    return result


def _connect(path: Path) -> sqlite3.Connection:
    """Open the database file (creating its directory), set the pragmas, migrate it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: no implicit transactions; every job issues its own BEGIN.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RunnerError(f"cannot switch {path} to WAL mode (got {mode!r})", code=STORE_ERROR)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        apply_migrations(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteStore:
    """The embedded database: one connection on its own thread, repositories on top.

    Open it with ``async with open_store(path) as store:`` (or ``await SqliteStore.open(path)``
    and ``await store.aclose()``). Repositories: :attr:`customers`, :attr:`runs`,
    :attr:`events`, :attr:`idempotency`, :attr:`audit`, :attr:`steps`,
    :attr:`processes`, :attr:`skips`.
    """

    customers: Customers
    runs: Runs
    events: Events
    idempotency: IdempotencyRecords
    audit: AuditLog
    steps: Steps
    processes: Processes
    skips: Skips

    def __init__(self, path: Path) -> None:
        self.path = path
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(
            target=self._serve, name=f"sqlite-store:{path.name}", daemon=True
        )
        self._connect_error: BaseException | None = None
        self._held: list[_Job | None] = []  # at most one job taken early by _more_writes
        self.customers = Customers(self)
        self.runs = Runs(self)
        self.events = Events(self)
        self.idempotency = IdempotencyRecords(self)
        self.audit = AuditLog(self)
        self.steps = Steps(self)
        self.processes = Processes(self)
        self.skips = Skips(self)

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Start the store thread, open and migrate ``path``.

        Raises:
            RunnerError: code ``store_error`` when the file cannot be opened or migrated.
        """
        store = cls(path)
        store._thread.start()
        try:
            await store.read(lambda conn: None)
        except BaseException:
            with trio.CancelScope(shield=True):
                await store.aclose()
            raise
        return store

    async def aclose(self) -> None:
        """Finish every submitted job, close the connection and stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        if self._thread.is_alive():
            await trio.to_thread.run_sync(self._thread.join)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the store thread in a read transaction and return its result.

        Cancelling the caller abandons the wait; the result is dropped.
        """
        return await self._submit(fn, write=False)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the store thread in a write transaction and return its result.

        Once submitted the write always completes (or rolls back as a whole); a cancelled
        caller waits for it and is cancelled at its next checkpoint.
        """
        return await self._submit(fn, write=True)

    async def check(self) -> None:
        """Raise unless the database takes a write (for /health; a full disk fails it).

        Raises:
            RunnerError: ``store_error``, or ``insufficient_storage`` when it is full.
        """
        await self.write(
            lambda conn: conn.execute(
                "INSERT INTO health_probe (id, writes) VALUES (1, 1)"
                " ON CONFLICT (id) DO UPDATE SET writes = writes + 1"
            )
        )

    async def pragma(self, name: str) -> Any:
        """Return the value of ``PRAGMA <name>`` (``journal_mode``, ``synchronous``...)."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        return await self.read(lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])

    async def _submit(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._closed:
            raise RunnerError("the store is closed", code=STORE_ERROR)
        job = _Job(
            fn=fn,
            write=write,
            task=trio.lowlevel.current_task(),
            token=trio.lowlevel.current_trio_token(),
        )
        self._jobs.put(job)

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            if job.write:
                return trio.lowlevel.Abort.FAILED
            job.abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED

        # reschedule() unwraps the outcome: this returns the value or raises the error
        result: T = await trio.lowlevel.wait_task_rescheduled(abort)
        return result

    def _serve(self) -> None:
        """Thread body: connect, then run jobs in order until the close sentinel."""
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(self.path)
        except BaseException as exc:  # noqa: BLE001  # reported to every caller instead
            self._connect_error = _as_store_error(exc)
        try:
            while (job := self._next()) is not None:
                if conn is None:
                    assert self._connect_error is not None
                    self._deliver(job, outcome.Error(self._connect_error))
                elif job.write:
                    batch = self._more_writes(job)
                    for done, result in zip(batch, _run_writes(conn, batch), strict=True):
                        self._deliver(done, result)
                else:
                    self._deliver(job, _run_job(conn, job))
        finally:
            if conn is not None:
                conn.close()

    def _next(self) -> _Job | None:
        """Return the next job in submission order (a held-back one first)."""
        if self._held:
            return self._held.pop()
        return self._jobs.get()

    def _more_writes(self, first: _Job) -> list[_Job]:
        """Group commit: take the writes queued right behind ``first`` (order is kept).

        The first job that is not a write (a read, the close sentinel) is held back and runs
        next, after the batch has committed.
        """
        batch = [first]
        while len(batch) < MAX_WRITE_BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None or not job.write:
                self._held.append(job)
                break
            batch.append(job)
        return batch

    def _deliver(self, job: _Job, result: outcome.Outcome[Any]) -> None:
        """Hand ``result`` back to the waiting task on its Trio thread."""

        def wake() -> None:
            if not job.abandoned:
                trio.lowlevel.reschedule(job.task, result)

        with contextlib.suppress(trio.RunFinishedError):  # the caller's run is over
            job.token.run_sync_soon(wake)


def _run_job(conn: sqlite3.Connection, job: _Job) -> outcome.Outcome[Any]:
    """Run one job and capture its outcome, translating database errors."""
    if job.abandoned and not job.write:
        return outcome.Value(None)  # a cancelled read: skip the work
    result: outcome.Outcome[Any] = outcome.capture(_run_in_transaction, conn, job)
    if isinstance(result, outcome.Error):
        return outcome.Error(_as_store_error(result.error))
    return result


def _run_writes(conn: sqlite3.Connection, batch: list[_Job]) -> list[outcome.Outcome[Any]]:
    """Run several writes in one transaction (one fsync), each under its own savepoint.

    A job that raises is rolled back to its savepoint alone; the others still commit.
    If the transaction itself fails (BEGIN, a savepoint, COMMIT), every job fails and
    nothing of the batch is kept. No result is delivered before the COMMIT.
    """
    if len(batch) == 1:
        return [_run_job(conn, batch[0])]
    results: list[outcome.Outcome[Any]] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for job in batch:
            conn.execute("SAVEPOINT job")
            result: outcome.Outcome[Any] = outcome.capture(job.fn, conn)
            if isinstance(result, outcome.Error):
                conn.execute("ROLLBACK TO job")
                result = outcome.Error(_as_store_error(result.error))
            conn.execute("RELEASE job")
            results.append(result)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.rollback()
        failed = _as_store_error(exc)
        return [outcome.Error(failed) for _ in batch]
    return results


def _is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk or the database is full (SQLITE_FULL, ENOSPC)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)
    return False


def _as_store_error(exc: BaseException) -> BaseException:
    """Wrap a database or file error into a RunnerError (keeping the cause).

    A write that failed for lack of space is ``insufficient_storage`` (507), every other
    database failure ``store_error``.
    """
    if isinstance(exc, (sqlite3.Error, OSError)):
        if _is_full(exc):
            error: RunnerError = InsufficientStorageError(
                f"no space left to save the change: {exc}"
            )
        else:
            error = RunnerError(f"database error: {exc}", code=STORE_ERROR)
        error.__cause__ = exc
        return error
    return exc


@contextlib.asynccontextmanager
async def open_store(path: Path) -> AsyncIterator[SqliteStore]:
    """Open the store at ``path`` for the duration of the block, then close it."""
    store = await SqliteStore.open(path)
    try:
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()
