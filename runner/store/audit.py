"""The audit log: one row per state-changing request, read by ``GET /audit``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import builtins

    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = ["AuditEntry", "AuditLog", "AuditRow"]

_COLUMNS = "timestamp, token_id, action, customer_id, outcome, status_code, request_id, detail"


@attrs.frozen
class AuditEntry:
    """Who did what to which customer, and how it ended.

    ``token_id`` is the token's id (``tok1``) or ``anonymous``, never the token itself.
    """

    timestamp: str
    token_id: str
    action: str
    customer_id: str | None
    outcome: str
    status_code: int
    request_id: str | None = None
    detail: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AuditRow:
    """A stored audit entry and its row id (ids increase with time)."""

    id: int
    entry: AuditEntry


def _row(row: tuple[Any, ...]) -> AuditRow:
    return AuditRow(
        id=row[0],
        entry=AuditEntry(
            timestamp=row[1],
            token_id=row[2],
            action=row[3],
            customer_id=row[4],
            outcome=row[5],
            status_code=row[6],
            request_id=row[7],
            detail=json.loads(row[8]),
        ),
    )


class AuditLog:
    """The ``audit`` table."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def record(self, entry: AuditEntry) -> int:
        """Append ``entry``; return its row id."""

        def record(conn: Connection) -> int:
            (row_id,) = conn.execute(
                f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    entry.timestamp,
                    entry.token_id,
                    entry.action,
                    entry.customer_id,
                    entry.outcome,
                    entry.status_code,
                    entry.request_id,
                    json.dumps(entry.detail),
                ),
            ).fetchone()
            return int(row_id)

        return await self._db.write(record)

    async def list(
        self, customer_id: str | None, limit: int, before_id: int | None = None
    ) -> builtins.list[AuditRow]:
        """Return up to ``limit`` entries, newest first.

        Args:
            customer_id: Only this customer's entries; None for all.
            limit: The most rows to return.
            before_id: Only rows older than this id (the last id of the previous page).
        """
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if customer_id is not None:
            clauses.append("customer_id = ?")
            params.append(customer_id)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT id, {_COLUMNS} FROM audit{where} ORDER BY id DESC LIMIT ?"

        def select(conn: Connection) -> builtins.list[AuditRow]:
            return [_row(row) for row in conn.execute(sql, (*params, limit))]

        return await self._db.read(select)

    async def purge_before(self, timestamp: str) -> int:
        """Delete entries recorded before ``timestamp`` (same format); return how many."""
        return await self._db.write(
            lambda conn: (
                conn.execute("DELETE FROM audit WHERE timestamp < ?", (timestamp,)).rowcount
            )
        )
