"""The seam between the repositories and the database drivers.

Repositories write one SQL text for both engines: ``?`` placeholders, ``INSERT ... ON
CONFLICT ... DO UPDATE``, ``RETURNING``, no engine-only functions. What cannot be written
once lives here and in the backend modules, nowhere else:

* a :class:`Connection` hides the driver: the PostgreSQL one rewrites ``?`` to ``%s`` and
  bulk-inserts with ``COPY``, the SQLite one with ``executemany``;
* a :class:`Dialect` holds what the store's threads do differently per engine: how a
  transaction begins, how the schema is locked for migrating, the migrations themselves,
  and whether other processes may write the same database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import attrs

from runner.store.migrations import Migration

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["STORE_ERROR", "Connection", "Cursor", "Dialect"]

STORE_ERROR = "store_error"
"""The ``RunnerError.code`` of every database failure (I/O, constraint, closed store)."""


class Cursor(Protocol):
    """The result of one statement: rows to fetch and the count of rows it changed."""

    @property
    def rowcount(self) -> int:
        """How many rows an INSERT, UPDATE or DELETE changed."""
        ...

    def fetchone(self) -> Any:
        """Return the next row as a tuple, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Return every remaining row."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the remaining rows."""
        ...


class Connection(Protocol):
    """One database connection, used by one store thread at a time.

    SQL uses ``?`` placeholders whatever the engine.
    """

    @property
    def error(self) -> type[Exception]:
        """The driver's base exception (``sqlite3.Error``, ``psycopg.Error``)."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        ...

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert many rows into ``table`` the fastest way the engine has."""
        ...

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (or failed and not yet rolled back)."""
        ...

    @property
    def broken(self) -> bool:
        """Whether the connection is lost and must be replaced before the next job."""
        ...

    def rollback(self) -> None:
        """End the open transaction, keeping nothing of it (no error if there is none)."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


@attrs.frozen
class Dialect:
    """What the store's threads do differently per database engine."""

    name: str
    """``sqlite`` or ``postgresql``."""
    begin_read: str
    """Starts a read job's transaction: one snapshot for all its statements."""
    begin_write: str
    """Starts a write transaction (a group of write jobs)."""
    lock_schema: str | None
    """Taken inside the migration transaction, so that two processes never migrate at once."""
    migrations: tuple[Migration, ...]
    shared: bool
    """Other processes may write this database, so no row may be cached past a read."""
    now: str
    """The database's current time as SQL (leases never use the instances' clocks)."""
    later: str
    """The database's current time plus ``?`` seconds, as SQL."""
    earlier: str
    """The database's current time minus ``?`` seconds, as SQL."""
    skip_locked: str
    """Appended to a SELECT that claims rows: skip rows another transaction holds."""
    share_lock: str
    """Appended to a SELECT that checks a row: no other transaction changes it until COMMIT."""
    notify: str | None
    """Tells listening instances (``?``: channel, payload) when the write commits; None
    where no other process listens."""
