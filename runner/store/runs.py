"""Runs: one row per automation run of a customer (CONTRACT §5)."""

from __future__ import annotations

import json
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import attrs

from runner.errors import NotFoundError

if TYPE_CHECKING:
    import builtins
    from collections.abc import Sequence

    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = [
    "INTERRUPTED_MESSAGE",
    "TERMINAL_STATUSES",
    "UNFINISHED",
    "RunRecord",
    "Runs",
    "StageRecord",
    "insert_run",
    "interrupted_error",
]

TERMINAL_STATUSES = frozenset({"DONE", "FAILED", "STOPPED"})
"""Statuses after which a run never changes again; every other one is in progress."""

INTERRUPTED_MESSAGE = "the service restarted during this run"

_STAGE_STATUSES = frozenset({"SELECTING", "PREPARING", "IMPLEMENTING", "VERIFYING", "COMPLETING"})
UNFINISHED = tuple(sorted(_STAGE_STATUSES))
"""The statuses of a run inside a stage: one whose owner is gone is interrupted, not over."""

_COLUMNS = (
    "run_id, customer_id, status, params, current_task, error, started_at, updated_at, finished_at"
)


@attrs.frozen
class RunRecord:
    """One run: its status, parameters, current task and, when FAILED, its error."""

    run_id: str
    customer_id: str
    status: str
    params: dict[str, Any]
    current_task: str | None
    error: dict[str, Any] | None
    started_at: str
    updated_at: str
    finished_at: str | None = None


@attrs.frozen
class StageRecord:
    """One stage a run went through: when, how long, which attempt, and how it ended."""

    run_id: str
    task_id: str | None
    stage: str
    attempt: int
    outcome: str
    """``ok``, ``failed`` or ``stopped``."""
    started_at: str
    finished_at: str
    duration_s: float
    result: dict[str, Any]
    """A summary of the stage's result, or the error (with its evidence) when it failed."""


_STAGE_COLUMNS = (
    "run_id, task_id, stage, attempt, outcome, started_at, finished_at, duration_s, result"
)


def _stage(row: tuple[Any, ...]) -> StageRecord:
    run_id, task_id, stage, attempt, outcome, started_at, finished_at, duration_s, result = row
    return StageRecord(
        run_id,
        task_id,
        stage,
        attempt,
        outcome,
        started_at,
        finished_at,
        duration_s,
        json.loads(result),
    )


def _run(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        customer_id=row[1],
        status=row[2],
        params=json.loads(row[3]),
        current_task=row[4],
        error=None if row[5] is None else json.loads(row[5]),
        started_at=row[6],
        updated_at=row[7],
        finished_at=row[8],
    )


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def insert_run(conn: Connection, record: RunRecord) -> None:
    """Insert a new run inside the caller's transaction."""
    conn.execute(
        f"INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.run_id,
            record.customer_id,
            record.status,
            json.dumps(record.params),
            record.current_task,
            _dumps(record.error),
            record.started_at,
            record.updated_at,
            record.finished_at,
        ),
    )


def interrupted_error(status: str) -> dict[str, str]:
    """Return the error recorded on a run that was cut short while in ``status``."""
    stage = status.lower() if status in _STAGE_STATUSES else "run"
    return {"stage": stage, "code": "interrupted", "message": INTERRUPTED_MESSAGE}


class Runs:
    """The ``runs`` table."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def create(self, record: RunRecord) -> RunRecord:
        """Insert a new run and return it.

        Raises:
            RunnerError: code ``store_error`` for a duplicate id or an unknown customer.
        """

        def create(conn: Connection) -> RunRecord:
            insert_run(conn, record)
            return record

        return await self._db.write(create)

    async def update(
        self,
        run_id: str,
        *,
        status: str,
        current_task: str | EllipsisType | None = ...,
        error: dict[str, Any] | EllipsisType | None = ...,
        updated_at: str,
        finished_at: str | None = None,
    ) -> RunRecord:
        """Set the run's status (and, when given, its current task and error).

        ``...`` leaves a field unchanged; ``None`` clears it. ``finished_at`` is always
        written (a run that goes back to work has no finish time).

        Raises:
            NotFoundError: No run has this id.
        """
        assignments = ["status = ?", "updated_at = ?", "finished_at = ?"]
        values: list[Any] = [status, updated_at, finished_at]
        if not isinstance(current_task, EllipsisType):
            assignments.append("current_task = ?")
            values.append(current_task)
        if not isinstance(error, EllipsisType):
            assignments.append("error = ?")
            values.append(_dumps(error))
        sql = f"UPDATE runs SET {', '.join(assignments)} WHERE run_id = ? RETURNING {_COLUMNS}"

        def update(conn: Connection) -> RunRecord | None:
            row = conn.execute(sql, (*values, run_id)).fetchone()
            return None if row is None else _run(row)

        updated = await self._db.write(update)
        if updated is None:
            raise NotFoundError(f"run {run_id!r} does not exist")
        return updated

    async def get(self, run_id: str) -> RunRecord | None:
        """Return the run, or None."""

        def get(conn: Connection) -> RunRecord | None:
            row = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
            found = row.fetchone()
            return None if found is None else _run(found)

        return await self._db.read(get)

    async def latest(self, customer_id: str) -> RunRecord | None:
        """Return the customer's most recently started run, or None."""
        runs = await self.list(customer_id, 1)
        return runs[0] if runs else None

    async def list(self, customer_id: str, limit: int) -> builtins.list[RunRecord]:
        """Return the customer's runs, newest first, at most ``limit``."""

        def list_runs(conn: Connection) -> builtins.list[RunRecord]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM runs WHERE customer_id = ?"
                " ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (customer_id, limit),
            )
            return [_run(row) for row in rows]

        return await self._db.read(list_runs)

    async def record_stage(self, record: StageRecord) -> StageRecord:
        """Append a finished stage to its run; ``attempt`` is replaced by the stage's count.

        The attempt is one more than the times this run already ran this stage of this task
        (a resumed run retrying the stage that failed counts 2). A stage of no task (SELECT)
        counts only its runs since the run last did something else: each SELECT of a new task
        is attempt 1, one run again after a transient failure is attempt 2.
        """

        # "IS ?" is SQLite's only; a stage of no task matches NULL, any other its task id
        same_task = "task_id IS NULL" if record.task_id is None else "task_id = ?"
        task = () if record.task_id is None else (record.task_id,)

        def insert(conn: Connection) -> StageRecord:
            (position,) = conn.execute(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM run_stages WHERE run_id = ?",
                (record.run_id,),
            ).fetchone()
            since = 0
            if record.task_id is None:
                (since,) = conn.execute(
                    "SELECT COALESCE(MAX(position), 0) FROM run_stages"
                    " WHERE run_id = ? AND stage != ?",
                    (record.run_id, record.stage),
                ).fetchone()
            (attempt,) = conn.execute(
                "SELECT 1 + COUNT(*) FROM run_stages WHERE run_id = ? AND stage = ?"
                f" AND position > ? AND {same_task}",
                (record.run_id, record.stage, since, *task),
            ).fetchone()
            stored = attrs.evolve(record, attempt=int(attempt))
            conn.execute(
                f"INSERT INTO run_stages (position, {_STAGE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (position, *attrs.astuple(stored)[:-1], json.dumps(stored.result)),
            )
            return stored

        return await self._db.write(insert)

    async def stages(self, run_ids: Sequence[str]) -> dict[str, builtins.list[StageRecord]]:
        """Return the stages of each of ``run_ids``, in the order they ran."""
        if not run_ids:
            return {}
        marks = ", ".join("?" for _ in run_ids)

        def read(conn: Connection) -> dict[str, builtins.list[StageRecord]]:
            rows = conn.execute(
                f"SELECT {_STAGE_COLUMNS} FROM run_stages WHERE run_id IN ({marks})"
                " ORDER BY run_id, position",
                tuple(run_ids),
            )
            found: dict[str, builtins.list[StageRecord]] = {run_id: [] for run_id in run_ids}
            for row in rows:
                found[row[0]].append(_stage(row))
            return found

        return await self._db.read(read)

    async def mark_interrupted(
        self, now: str, customer_id: str | None = None
    ) -> builtins.list[RunRecord]:
        """Fail every run that was inside a stage when the service stopped (at startup), or
        this customer's (its owner is gone: the instance that took it over).

        Each becomes FAILED with error ``{"stage", "code": "interrupted", "message"}``, where
        stage is its stage status lowercased (``implementing``). A PAUSED run was not
        interrupted: it stays PAUSED and can be resumed.

        Returns:
            The runs as updated.
        """
        active = sorted(_STAGE_STATUSES)
        where = f"status IN ({', '.join('?' for _ in active)})"
        params: tuple[str, ...] = tuple(active)
        if customer_id is not None:
            where += " AND customer_id = ?"
            params += (customer_id,)

        def mark(conn: Connection) -> builtins.list[RunRecord]:
            rows = conn.execute(f"SELECT run_id, status FROM runs WHERE {where}", params).fetchall()
            updated = []
            for run_id, status in rows:
                row = conn.execute(
                    "UPDATE runs SET status = 'FAILED', error = ?, updated_at = ?,"
                    f" finished_at = ? WHERE run_id = ? RETURNING {_COLUMNS}",
                    (json.dumps(interrupted_error(status)), now, now, run_id),
                ).fetchone()
                updated.append(_run(row))
            return updated

        return await self._db.write(mark)
