"""The shared engine: PostgreSQL through psycopg 3, selected by ``DATABASE_URL=postgresql://``.

psycopg's async API only runs under asyncio, so its sync API runs on store threads
(:mod:`runner.store.worker`): one writer thread with group commit, as for SQLite, and a few
reader threads, each with a connection of its own, so reads never wait behind a write.
A read sees every write its caller awaited before; unlike SQLite, a read submitted
while writes are still queued may run before them.

Connections are in autocommit mode and each job sends its own ``BEGIN``: the writer's
transactions are READ COMMITTED, a read job is one REPEATABLE READ, READ ONLY snapshot.
A lost connection (server restart, network) is replaced before the next job.
:meth:`PostgresStore.listen` LISTENs on a connection of its own, waited on by Trio itself.

The URL carries the database password: it never appears in a log, an error or /health
(:meth:`PostgresStore.describe` and every error message are redacted).
"""

from __future__ import annotations

import contextlib
import functools
import urllib.parse
from functools import partial
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors
import trio
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict

from runner.errors import InsufficientStorageError, RunnerError
from runner.redact import Redactor, url_password
from runner.store.db import Store, open_until_closed
from runner.store.migrations import apply_migrations
from runner.store.postgres_migrations import POSTGRES_MIGRATIONS, SCHEMA_LOCK
from runner.store.sql import STORE_ERROR, Dialect
from runner.store.worker import Worker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from runner.store.sql import Cursor

__all__ = ["POSTGRES", "READERS", "Notifications", "PostgresStore", "open_postgres_store"]

READERS = 3
"""Reader threads (and connections) per store; with the writer, four connections."""
CONNECT_TIMEOUT_S = 10
"""How long a connection attempt may take, unless the URL says ``connect_timeout``."""

_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms: unacknowledged data for this long drops the connection
}

POSTGRES = Dialect(
    name="postgresql",
    begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    begin_write="BEGIN",
    lock_schema=f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})",
    migrations=POSTGRES_MIGRATIONS,
    shared=True,  # other instances may write the same database
    now="now()",  # the transaction's start: a claim or a fence is judged at one instant
    later="now() + make_interval(secs => ?)",
    earlier="now() - make_interval(secs => ?)",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    share_lock=" FOR SHARE",
    notify="SELECT pg_notify(?, ?)",
)


@functools.lru_cache(maxsize=512)
def pyformat(sql: str) -> str:
    """Rewrite the repositories' ``?`` placeholders to psycopg's ``%s`` (``%`` to ``%%``).

    ``?`` and ``%`` inside a quoted string literal are left as they are.
    """
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if quoted:
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


class PostgresConnection:
    """A psycopg connection in autocommit mode, as the repositories' :class:`Connection`."""

    error = psycopg.Error

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (``?`` placeholders)."""
        if not params:  # no parameters: psycopg sends the text as it is, '%' included
            return self.raw.execute(sql)
        return self.raw.execute(pyformat(sql), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row (pipelined by psycopg)."""
        if params:
            with self.raw.cursor() as cursor:
                cursor.executemany(pyformat(sql), params)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert many rows with ``COPY ... FROM STDIN`` (one row: a plain INSERT)."""
        if len(rows) == 1:
            marks = ", ".join("?" for _ in columns)
            self.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows[0])
            return
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open or failed."""
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        """Whether the server or the network dropped the connection."""
        return self.raw.broken or self.raw.closed

    def rollback(self) -> None:
        """Roll back the open transaction, if any; a lost connection has none to keep."""
        status = self.raw.info.transaction_status
        if status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
            with contextlib.suppress(psycopg.OperationalError):  # lost: nothing is kept anyway
                self.raw.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


def connect_raw(url: str) -> psycopg.Connection[Any]:
    """Open an autocommit connection with the store's defaults (the URL's settings win)."""
    params: dict[str, Any] = conninfo_to_dict(url)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.setdefault("application_name", "devteam-runner")
    # A submitted write cannot be cancelled (its caller waits for it): a server that went
    # away without closing the connection must show as an error within seconds, not after
    # the kernel's retransmissions give up (~15 min). The URL may say otherwise.
    for name, value in _KEEPALIVES.items():
        params.setdefault(name, value)
    return psycopg.connect(autocommit=True, **params)


def _connect(url: str, *, migrate: bool) -> PostgresConnection:
    """Connect (and, for the writer, migrate the schema)."""
    conn = PostgresConnection(connect_raw(url))
    if migrate:
        try:
            apply_migrations(conn, POSTGRES)
        except BaseException:
            conn.close()
            raise
    return conn


def _is_full(exc: psycopg.Error) -> bool:
    """Whether the server said its disk is full (SQLSTATE 53100 ``disk_full``)."""
    return isinstance(exc, psycopg.errors.DiskFull)


def store_error(redactor: Redactor, exc: BaseException) -> BaseException:
    """Wrap a psycopg error into a RunnerError with a redacted message (keeping the cause).

    ``disk_full`` is ``insufficient_storage`` (507), every other database failure
    ``store_error``; any other exception (a bug in a job) passes unchanged.
    """
    if not isinstance(exc, psycopg.Error):
        return exc
    message = redactor(str(exc).strip())
    error: RunnerError
    if _is_full(exc):
        error = InsufficientStorageError(f"no space left to save the change: {message}")
    else:
        error = RunnerError(f"database error: {message}", code=STORE_ERROR)
    error.__cause__ = exc
    return error


def describe(url: str) -> str:
    """Return ``url`` without its password (for logs and /health)."""
    parts = urllib.parse.urlsplit(url)
    try:
        netloc = parts.netloc.rpartition("@")[2]
        user = parts.username
    except ValueError:
        return "postgresql://***"
    if user:
        netloc = f"{user}:***@{netloc}" if parts.password else f"{user}@{netloc}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Notifications:
    """The notifications of the channels a connection LISTENs to, received the Trio way.

    No thread: the task sleeps until the connection's socket is readable
    (``trio.lowlevel.wait_readable``), then lets libpq read what arrived, so waiting is
    cancellable like any other Trio wait. A notification arrives when its transaction
    commits (never for one rolled back); it is not stored, so one sent while nobody
    listened is gone.
    """

    def __init__(
        self, conn: psycopg.Connection[Any], errors: Callable[[BaseException], BaseException]
    ) -> None:
        self._conn = conn
        self._errors = errors

    async def receive(self) -> str:
        """Wait for the next notification and return its payload.

        Raises:
            RunnerError: ``store_error`` when the connection is lost (listen again, then
                read what was missed from the tables).
        """
        pgconn = self._conn.pgconn
        while True:
            notify = pgconn.notifies()
            if notify is not None:
                return notify.extra.decode()
            await trio.lowlevel.wait_readable(pgconn.socket)
            try:
                pgconn.consume_input()
            except psycopg.OperationalError as exc:
                raise self._errors(exc) from None

    def __aiter__(self) -> Notifications:
        return self

    async def __anext__(self) -> str:
        return await self.receive()


class PostgresStore(Store):
    """A PostgreSQL database: one writer thread, :data:`READERS` reader threads."""

    def __init__(self, url: str, *, readers: int = READERS) -> None:
        self._url = url
        password = url_password(url)
        errors = partial(store_error, Redactor((password,) if password else ()))
        self._errors = errors
        writer = Worker("postgres-writer", partial(_connect, url, migrate=True), errors, POSTGRES)
        reader = Worker(
            "postgres-reader", partial(_connect, url, migrate=False), errors, POSTGRES, readers
        )
        super().__init__(POSTGRES, writer, reader)

    @contextlib.asynccontextmanager
    async def listen(self, *channels: str) -> AsyncIterator[Notifications]:
        """LISTEN to ``channels`` on a connection of its own for the duration of the block.

        Raises:
            RunnerError: ``store_error`` when the server cannot be reached.
        """

        def connect() -> psycopg.Connection[Any]:
            conn = connect_raw(self._url)
            try:
                for channel in channels:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            conn = await trio.to_thread.run_sync(connect)
        except psycopg.Error as exc:
            raise self._errors(exc) from None
        try:
            yield Notifications(conn, self._errors)
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.describe()!r})"

    def describe(self) -> str:
        """The database's URL without its password."""
        return describe(self._url)

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Connect, migrate; ``aclose()`` it when done.

        Raises:
            RunnerError: code ``store_error`` when the database cannot be reached or migrated.
        """
        store = cls(url)
        await store._start()
        return store


@contextlib.asynccontextmanager
async def open_postgres_store(url: str) -> AsyncIterator[PostgresStore]:
    """Open the PostgreSQL store at ``url`` for the duration of the block, then close it."""
    async with open_until_closed(PostgresStore(url)) as store:
        yield store
