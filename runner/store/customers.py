"""Customers and their persisted execution state."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs
import trio

if TYPE_CHECKING:
    import builtins

    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = ["CustomerRecord", "Customers"]

_COLUMNS = (
    "customer_id, repo_url, base_branch, tasks_file, tool, push, settings, created_at, updated_at"
)


@attrs.frozen
class CustomerRecord:
    """A registered customer: one repository and how to run its task list."""

    customer_id: str
    repo_url: str
    base_branch: str
    tasks_file: str
    tool: str
    push: bool
    settings: dict[str, Any]
    created_at: str
    updated_at: str


def _customer(row: tuple[Any, ...]) -> CustomerRecord:
    return CustomerRecord(
        customer_id=row[0],
        repo_url=row[1],
        base_branch=row[2],
        tasks_file=row[3],
        tool=row[4],
        push=bool(row[5]),
        settings=json.loads(row[6]),
        created_at=row[7],
        updated_at=row[8],
    )


def write_state(conn: Connection, customer_id: str, state: dict[str, Any], updated_at: str) -> None:
    """Upsert a customer's execution state (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO customer_state (customer_id, state, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (customer_id) DO UPDATE SET state = excluded.state,"
        " updated_at = excluded.updated_at",
        (customer_id, json.dumps(state), updated_at),
    )


class Customers:
    """The ``customers`` and ``customer_state`` tables.

    Records are cached, write-through, when this store is the database's only writer (SQLite):
    every request and stage looks its customer up. A read that raced with an upsert of the
    same customer does not fill the cache (``_versions``), so the cache never holds an older
    record than the table. A shared database (PostgreSQL) is written by other instances too,
    so there every lookup reads the table.
    """

    def __init__(self, db: Store) -> None:
        self._db = db
        self._caching = not db.dialect.shared
        self._cache: dict[str, CustomerRecord] = {}
        self._versions: dict[str, int] = {}

    def _bump(self, customer_id: str) -> int:
        self._cache.pop(customer_id, None)
        version = self._versions[customer_id] = self._versions.get(customer_id, 0) + 1
        return version

    async def upsert(self, record: CustomerRecord) -> CustomerRecord:
        """Insert or update ``record``; an update keeps the stored ``created_at``.

        Returns:
            The record as stored.
        """

        def upsert(conn: Connection) -> CustomerRecord:
            row = conn.execute(
                f"INSERT INTO customers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (customer_id) DO UPDATE SET repo_url = excluded.repo_url,"
                " base_branch = excluded.base_branch, tasks_file = excluded.tasks_file,"
                " tool = excluded.tool, push = excluded.push, settings = excluded.settings,"
                f" updated_at = excluded.updated_at RETURNING {_COLUMNS}",
                (
                    record.customer_id,
                    record.repo_url,
                    record.base_branch,
                    record.tasks_file,
                    record.tool,
                    int(record.push),
                    json.dumps(record.settings),
                    record.created_at,
                    record.updated_at,
                ),
            ).fetchone()
            return _customer(row)

        version = self._bump(record.customer_id)
        stored = await self._db.write(upsert)
        if self._caching and self._versions[record.customer_id] == version:  # no upsert since
            self._cache[record.customer_id] = stored
        return stored

    async def delete(self, customer_id: str) -> None:
        """Remove the customer with its state, runs, steps and events (undo a registration).

        The event counter is kept, so that a later customer of that id never reuses a seq.
        """

        def delete(conn: Connection) -> None:
            for table in ("steps", "events", "customers"):  # state and runs: ON DELETE CASCADE
                conn.execute(f"DELETE FROM {table} WHERE customer_id = ?", (customer_id,))

        self._bump(customer_id)
        await self._db.write(delete)

    async def get(self, customer_id: str) -> CustomerRecord | None:
        """Return the customer, or None if it is not registered."""
        cached = self._cache.get(customer_id)
        if cached is not None:
            await trio.lowlevel.checkpoint()
            return cached
        version = self._versions.get(customer_id, 0)
        record = await self._read(customer_id)
        if self._caching and record is not None and self._versions.get(customer_id, 0) == version:
            self._cache[customer_id] = record
        return record

    async def _read(self, customer_id: str) -> CustomerRecord | None:
        def get(conn: Connection) -> CustomerRecord | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM customers WHERE customer_id = ?", (customer_id,)
            ).fetchone()
            return None if row is None else _customer(row)

        return await self._db.read(get)

    async def list(self) -> builtins.list[CustomerRecord]:
        """Return every customer, ordered by id."""

        def list_all(conn: Connection) -> builtins.list[CustomerRecord]:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM customers ORDER BY customer_id")
            return [_customer(row) for row in rows]

        return await self._db.read(list_all)

    async def find_by_repo(self, repo_url: str) -> builtins.list[CustomerRecord]:
        """Return the customers registered with exactly ``repo_url``, ordered by id."""

        def find(conn: Connection) -> builtins.list[CustomerRecord]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM customers WHERE repo_url = ? ORDER BY customer_id",
                (repo_url,),
            )
            return [_customer(row) for row in rows]

        return await self._db.read(find)

    async def save_state(self, customer_id: str, state: dict[str, Any], updated_at: str) -> None:
        """Persist the customer's execution state (replacing the previous one).

        Raises:
            RunnerError: code ``store_error`` when the customer is not registered.
        """

        await self._db.write(lambda conn: write_state(conn, customer_id, state, updated_at))

    async def load_state(self, customer_id: str) -> dict[str, Any] | None:
        """Return the customer's last saved execution state, or None."""

        def load(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT state FROM customer_state WHERE customer_id = ?", (customer_id,)
            ).fetchone()
            return None if row is None else dict(json.loads(row[0]))

        return await self._db.read(load)

    async def load_all_states(self) -> dict[str, dict[str, Any]]:
        """Return every saved execution state by customer id (used at startup)."""

        def load_all(conn: Connection) -> dict[str, dict[str, Any]]:
            rows = conn.execute("SELECT customer_id, state FROM customer_state")
            return {customer_id: json.loads(state) for customer_id, state in rows}

        return await self._db.read(load_all)
