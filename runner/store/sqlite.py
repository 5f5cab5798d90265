"""The embedded engine: one SQLite file, one connection on one thread for reads and writes.

aiosqlite only runs under asyncio, so a :class:`~runner.store.worker.Worker` thread owns the
connection. WAL journal, ``synchronous = FULL``: a committed write survives a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from functools import partial
from typing import TYPE_CHECKING, Any

from runner.errors import InsufficientStorageError, RunnerError
from runner.store.db import Store, open_until_closed
from runner.store.migrations import MIGRATIONS, apply_migrations
from runner.store.sql import STORE_ERROR, Dialect
from runner.store.worker import Worker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from runner.store.sql import Cursor

__all__ = ["SQLITE", "SqliteStore", "open_store"]

BUSY_TIMEOUT_MS = 5000

SQLITE = Dialect(
    name="sqlite",
    begin_read="BEGIN DEFERRED",
    # IMMEDIATE takes the write lock at BEGIN, so a busy database fails there, not mid-job
    begin_write="BEGIN IMMEDIATE",
    lock_schema=None,  # BEGIN IMMEDIATE already excludes every other writer
    migrations=MIGRATIONS,
    shared=False,  # the one store thread is the file's only writer
    # ISO-8601 text with milliseconds, so that text order is time order
    now="strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    later="strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ? || ' seconds')",
    earlier="strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ? || ' seconds')",
    skip_locked="",  # one writer: no other transaction holds a row
    share_lock="",
    notify=None,
)


class SqliteConnection:
    """A ``sqlite3.Connection`` in autocommit mode, as the repositories' :class:`Connection`."""

    error = sqlite3.Error

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        self.raw.executemany(sql, params)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert many rows: one prepared statement, stepped once per row."""
        marks = ", ".join("?" for _ in columns)
        self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open."""
        return self.raw.in_transaction

    @property
    def broken(self) -> bool:
        """Never: a file does not go away like a server does."""
        return False

    def rollback(self) -> None:
        """Roll back the open transaction, if any (a failed COMMIT may have ended it)."""
        if self.raw.in_transaction:
            self.raw.rollback()

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


def _connect(path: Path) -> SqliteConnection:
    """Open the database file (creating its directory), set the pragmas, migrate it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: no implicit transactions; every job issues its own BEGIN.
    conn = SqliteConnection(sqlite3.connect(path, isolation_level=None, check_same_thread=True))
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RunnerError(f"cannot switch {path} to WAL mode (got {mode!r})", code=STORE_ERROR)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        apply_migrations(conn, SQLITE)
    except BaseException:
        conn.close()
        raise
    return conn


def _is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk or the database is full (SQLITE_FULL, ENOSPC)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)
    return False


def store_error(exc: BaseException) -> BaseException:
    """Wrap a database or file error into a RunnerError (keeping the cause).

    A write that failed for lack of space is ``insufficient_storage`` (507), every other
    database failure ``store_error``; any other exception (a bug in a job) passes unchanged.
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


class SqliteStore(Store):
    """The embedded database file: every job on one thread, reads and writes in order.

    A read queued behind writes sees them; a write queued behind a read waits for it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        worker = Worker(f"sqlite-store:{path.name}", partial(_connect, path), store_error, SQLITE)
        super().__init__(SQLITE, worker)

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Start the store thread, open and migrate ``path``; ``aclose()`` it when done.

        Raises:
            RunnerError: code ``store_error`` when the file cannot be opened or migrated.
        """
        store = cls(path)
        await store._start()
        return store

    async def pragma(self, name: str) -> Any:
        """Return the value of ``PRAGMA <name>`` (``journal_mode``, ``synchronous``...)."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        return await self.read(lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])


@contextlib.asynccontextmanager
async def open_store(path: Path) -> AsyncIterator[SqliteStore]:
    """Open the SQLite store at ``path`` for the duration of the block, then close it."""
    async with open_until_closed(SqliteStore(path)) as store:
        yield store
