"""Tasks a person skipped: SELECT passes over them; their dependants keep waiting."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = ["SkipRecord", "Skips"]


@attrs.frozen
class SkipRecord:
    """One skipped task: who asked (the token id), why, and when."""

    customer_id: str
    task_id: str
    reason: str
    skipped_by: str | None
    skipped_at: str


class Skips:
    """The ``skipped_tasks`` table."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def add(self, skip: SkipRecord) -> None:
        """Record ``skip`` (a second skip of the task replaces the first)."""

        def add(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO skipped_tasks"
                " (customer_id, task_id, reason, skipped_by, skipped_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (customer_id, task_id) DO UPDATE SET reason = excluded.reason,"
                " skipped_by = excluded.skipped_by, skipped_at = excluded.skipped_at",
                attrs.astuple(skip),
            )

        await self._db.write(add)

    async def remove(self, customer_id: str, task_id: str) -> bool:
        """Forget the skip of ``task_id``; False when the task was not skipped."""

        def remove(conn: Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM skipped_tasks WHERE customer_id = ? AND task_id = ?",
                (customer_id, task_id),
            )
            return bool(cursor.rowcount)

        return await self._db.write(remove)

    async def of(self, customer_id: str) -> dict[str, SkipRecord]:
        """Return the customer's skipped tasks by id."""

        def select(conn: Connection) -> dict[str, SkipRecord]:
            rows = conn.execute(
                "SELECT customer_id, task_id, reason, skipped_by, skipped_at"
                " FROM skipped_tasks WHERE customer_id = ?",
                (customer_id,),
            )
            return {row[1]: SkipRecord(*row) for row in rows}

        return await self._db.read(select)
