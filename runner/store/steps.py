"""Recorded step results: re-running a completed step without a key replays its result.

CONTRACT §7: "Without a key, re-running a completed step is a no-op that returns its
recorded result (``force: true`` redoes it)." A step is identified by customer, stage,
task and branch (``""`` when the stage has none).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import builtins

    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = ["StepRecord", "Steps"]

_COLUMNS = "customer_id, stage, task_id, branch, status_code, body, recorded_at"


@attrs.frozen
class StepRecord:
    """The response a completed stage gave for one task on one branch."""

    customer_id: str
    stage: str
    task_id: str
    branch: str
    status_code: int
    body: dict[str, Any]
    recorded_at: str


def _step(row: tuple[Any, ...]) -> StepRecord:
    return StepRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])


def write_step(conn: Connection, step: StepRecord) -> None:
    """Store ``step`` inside the caller's transaction, replacing an earlier result.

    Delete, then insert: the replaced step gets a new ``rowid`` and sorts as the newest.
    """
    conn.execute(
        "DELETE FROM steps WHERE customer_id = ? AND stage = ? AND task_id = ? AND branch = ?",
        (step.customer_id, step.stage, step.task_id, step.branch),
    )
    conn.execute(
        f"INSERT INTO steps ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            step.customer_id,
            step.stage,
            step.task_id,
            step.branch,
            step.status_code,
            json.dumps(step.body),
            step.recorded_at,
        ),
    )


class Steps:
    """The ``steps`` table."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def record(self, step: StepRecord) -> None:
        """Store ``step``, replacing an earlier result for the same step."""
        await self._db.write(lambda conn: write_step(conn, step))

    async def get(
        self, customer_id: str, stage: str, task_id: str, branch: str
    ) -> StepRecord | None:
        """Return the recorded result of this step, or None."""

        def get(conn: Connection) -> StepRecord | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM steps"
                " WHERE customer_id = ? AND stage = ? AND task_id = ? AND branch = ?",
                (customer_id, stage, task_id, branch),
            ).fetchone()
            return None if row is None else _step(row)

        return await self._db.read(get)

    async def find(self, stage: str, task_id: str, branch: str | None) -> builtins.list[StepRecord]:
        """Return every customer's recorded ``stage`` for the task, oldest first.

        Args:
            stage: The exact stage name.
            task_id: The task.
            branch: Only this branch; None for any.
        """
        return await self._select(stage, task_id, branch, prefix=False)

    async def find_prefix(
        self, stage_prefix: str, task_id: str, branch: str | None
    ) -> builtins.list[StepRecord]:
        """Like :meth:`find`, for every stage whose name starts with ``stage_prefix``."""
        return await self._select(stage_prefix, task_id, branch, prefix=True)

    async def _select(
        self, stage: str, task_id: str, branch: str | None, *, prefix: bool
    ) -> builtins.list[StepRecord]:
        # substr(), not LIKE: '%' and '_' in a stage name are not wildcards
        sql = f"SELECT {_COLUMNS} FROM steps WHERE task_id = ? AND "
        sql += "substr(stage, 1, ?) = ?" if prefix else "stage = ?"
        params: builtins.list[Any] = [task_id, len(stage), stage] if prefix else [task_id, stage]
        if branch is not None:
            sql += " AND branch = ?"
            params.append(branch)
        sql += " ORDER BY recorded_at, rowid"

        def select(conn: Connection) -> builtins.list[StepRecord]:
            return [_step(row) for row in conn.execute(sql, params)]

        return await self._db.read(select)

    async def clear(self, customer_id: str, task_id: str) -> int:
        """Forget every recorded step of the task (``force`` or a new attempt); return how many."""
        return await self._db.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM steps WHERE customer_id = ? AND task_id = ?",
                    (customer_id, task_id),
                ).rowcount
            )
        )
