"""Store threads: database connections owned by threads, jobs handed over by a queue.

The drivers block (sqlite3, psycopg's sync API; psycopg's async API only runs under asyncio),
so a :class:`Worker` is one or more ``threading.Thread`` consuming a ``queue.SimpleQueue``
of jobs; each thread owns its connection and no other thread ever touches it. An async
caller submits a callable and sleeps until a thread hands the result back through the Trio
token (``run_sync_soon``); nothing polls.

Every job is atomic: a read runs in its own transaction; writes queued together share one
write transaction (group commit: one flush for the lot), each under its own savepoint, so a
job either commits completely or not at all, and no caller hears of its write before the
COMMIT. One thread runs its jobs in submission order, so with one thread (the writer, or
SQLite's only thread) a later call always sees the effect of an earlier one. Cancellation:

* a **write** that has been submitted always completes; the cancelled caller waits for it
  (like ``trio.to_thread.run_sync``) and sees ``Cancelled`` at its next checkpoint, so
  "persist, then publish" code never persists without returning;
* a **read** is abandoned at once; its result is dropped when a thread gets to it.

A connection the driver reports lost (:attr:`Connection.broken`) is replaced: when the loss
shows at a job's BEGIN (it happened while idle) the job runs on the new connection; jobs
that met it later fail with ``store_error``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import outcome
import trio

from runner.errors import RunnerError
from runner.store.sql import STORE_ERROR, Connection

if TYPE_CHECKING:
    from runner.store.sql import Dialect

__all__ = ["MAX_WRITE_BATCH", "Worker"]

T = TypeVar("T")

MAX_WRITE_BATCH = 64
"""The most queued writes committed together in one transaction (group commit).

Each is a savepoint: PostgreSQL keeps up to 64 subtransactions of a transaction in shared
memory, more slow down every other session's snapshots.
"""


@attrs.define(eq=False)
class _Job:
    """One unit of work for a store thread and the way back to its caller."""

    fn: Callable[[Connection], Any]
    write: bool
    task: trio.lowlevel.Task
    token: trio.lowlevel.TrioToken
    abandoned: bool = False


class Worker:
    """Threads that run store jobs from one queue, each on a connection of its own.

    Args:
        name: The threads' name (for debuggers and thread dumps).
        connect: Opens a connection; called on the thread, again after a connection is lost.
        store_error: Turns a driver or file error into the ``RunnerError`` callers see.
        dialect: How this engine begins transactions.
        threads: How many threads (and connections) serve the queue.
    """

    def __init__(
        self,
        name: str,
        connect: Callable[[], Connection],
        store_error: Callable[[BaseException], BaseException],
        dialect: Dialect,
        threads: int = 1,
    ) -> None:
        self._connect = connect
        self._store_error = store_error
        self._dialect = dialect
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        self._started = False

    async def run(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``fn(conn)`` on a store thread inside a transaction and return its result."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()
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

    async def aclose(self) -> None:
        """Finish every submitted job, close the connections and stop the threads."""
        for _ in self._threads:
            self._jobs.put(None)
        running = [thread for thread in self._threads if thread.is_alive()]
        for thread in running:
            await trio.to_thread.run_sync(thread.join)

    def _serve(self) -> None:
        """Thread body: run jobs in order until the close sentinel."""
        link = _Link(self._connect)
        held: list[_Job | None] = []  # at most one job taken early by _more_writes
        try:
            while (job := held.pop() if held else self._jobs.get()) is not None:
                if job.abandoned:  # a cancelled read: skip the work
                    continue
                if job.write:
                    batch = self._more_writes(job, held)
                    for done, result in zip(batch, self._run_writes(link, batch), strict=True):
                        self._deliver(done, result)
                else:
                    self._deliver(job, self._run_one(link, job))
        finally:
            link.drop()

    def _more_writes(self, first: _Job, held: list[_Job | None]) -> list[_Job]:
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
                held.append(job)
                break
            batch.append(job)
        return batch

    def _run_one(self, link: _Link, job: _Job) -> outcome.Outcome[Any]:
        """Run one job in a transaction of its own and capture its outcome."""
        try:
            conn = link.begin(self._dialect.begin_write if job.write else self._dialect.begin_read)
        except Exception as exc:  # noqa: BLE001  # no connection, no BEGIN: the job's error
            return outcome.Error(self._store_error(exc))
        try:
            result: outcome.Outcome[Any] = outcome.capture(job.fn, conn)
            if isinstance(result, outcome.Error):
                conn.rollback()
                return outcome.Error(self._store_error(result.error))
            _commit(conn)
        except (conn.error, RunnerError) as exc:  # COMMIT failed: nothing was kept
            conn.rollback()
            return outcome.Error(self._store_error(exc))
        return result

    def _run_writes(self, link: _Link, batch: list[_Job]) -> list[outcome.Outcome[Any]]:
        """Run several writes in one transaction (one flush), each under its own savepoint.

        A job that raises is rolled back to its savepoint alone; the others still commit.
        If the transaction itself fails (BEGIN, a savepoint, COMMIT), every job fails and
        nothing of the batch is kept. No result is delivered before the COMMIT.
        """
        if len(batch) == 1:
            return [self._run_one(link, batch[0])]
        try:
            conn = link.begin(self._dialect.begin_write)
        except Exception as exc:  # noqa: BLE001  # no connection, no BEGIN: every job's error
            failed = self._store_error(exc)
            return [outcome.Error(failed) for _ in batch]
        results: list[outcome.Outcome[Any]] = []
        try:
            for job in batch:
                # No RELEASE: a savepoint of the same name hides the previous one (ROLLBACK TO
                # goes to the newest) and COMMIT ends them all; one round trip fewer per job
                # on PostgreSQL, and released or not each one counts in its subtransactions.
                conn.execute("SAVEPOINT job")
                result: outcome.Outcome[Any] = outcome.capture(job.fn, conn)
                if isinstance(result, outcome.Error):
                    conn.execute("ROLLBACK TO SAVEPOINT job")
                    result = outcome.Error(self._store_error(result.error))
                results.append(result)
            _commit(conn)
        except (conn.error, RunnerError) as exc:
            conn.rollback()
            failed = self._store_error(exc)
            return [outcome.Error(failed) for _ in batch]
        return results

    def _deliver(self, job: _Job, result: outcome.Outcome[Any]) -> None:
        """Hand ``result`` back to the waiting task on its Trio thread."""

        def wake() -> None:
            if not job.abandoned:
                trio.lowlevel.reschedule(job.task, result)

        with contextlib.suppress(trio.RunFinishedError):  # the caller's run is over
            job.token.run_sync_soon(wake)


def _commit(conn: Connection) -> None:
    """COMMIT, unless a job ended the transaction itself (its writes and its batch's are gone).

    PostgreSQL only warns about a COMMIT outside a transaction, so the check is ours.

    Raises:
        RunnerError: ``store_error`` when no transaction is open any more.
    """
    if not conn.in_transaction:
        raise RunnerError("a write ended its transaction early; nothing was kept", code=STORE_ERROR)
    conn.execute("COMMIT")


class _Link:
    """One thread's connection: opened on first use, replaced once the driver reports it lost."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._conn: Connection | None = None

    def begin(self, sql: str) -> Connection:
        """Begin a transaction on a live connection and return it.

        A connection lost while idle (a server restart) is only noticed now; nothing of the
        job has run yet, so it is replaced and the BEGIN sent again, once.
        """
        conn = self._open()
        try:
            conn.execute(sql)
        except conn.error:
            if not conn.broken:
                raise
            self.drop()
            conn = self._open()
            conn.execute(sql)
        return conn

    def _open(self) -> Connection:
        if self._conn is not None and self._conn.broken:
            self.drop()
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def drop(self) -> None:
        """Close the connection (if any); the next :meth:`begin` opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
