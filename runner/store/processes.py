"""The process journal: the lives of the service and the child processes each left running.

A row exists while a child process runs (written right after it was spawned, deleted once
its tree has been ended); the rows a crashed life left are what the next life kills before
it resumes anything. See :mod:`runner.process.containment`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = ["ProcessLife", "ProcessRow", "Processes"]


@attrs.frozen
class ProcessLife:
    """A life of the service: its instance id, and the process that lived it (on ``host``,
    started at ``start_time`` ticks: a pid reused since is not it)."""

    instance: str
    pid: int
    host: str | None = None
    start_time: int | None = None


@attrs.frozen
class ProcessRow:
    """A journaled child process: its marker, pid (= its pgid) and start time in ticks."""

    marker: str
    pid: int
    start_time: int


class Processes:
    """The ``processes`` and ``process_lives`` tables."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def begin_life(
        self,
        instance: str,
        pid: int,
        now: str,
        *,
        host: str | None = None,
        start_time: int | None = None,
    ) -> None:
        """Record that the service life ``instance`` (process ``pid`` on ``host``) started."""
        await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO process_lives (instance, pid, started_at, host, start_time)"
                " VALUES (?, ?, ?, ?, ?)",
                (instance, pid, now, host, start_time),
            )
        )

    async def left_behind(self) -> tuple[list[ProcessLife], list[ProcessRow]]:
        """Return the recorded lives and the processes still journaled."""

        def select(conn: Connection) -> tuple[list[ProcessLife], list[ProcessRow]]:
            lives = conn.execute(
                "SELECT instance, pid, host, start_time FROM process_lives ORDER BY instance"
            )
            rows = conn.execute("SELECT marker, pid, start_time FROM processes ORDER BY marker")
            return [ProcessLife(*life) for life in lives], [ProcessRow(*row) for row in rows]

        return await self._db.read(select)

    async def forget_lives(self, instances: list[str]) -> None:
        """Delete ``instances`` and every process they journaled (their trees are ended)."""

        def delete(conn: Connection) -> None:
            for instance in instances:
                conn.execute("DELETE FROM process_lives WHERE instance = ?", (instance,))
                conn.execute(
                    "DELETE FROM processes WHERE substr(marker, 1, ?) = ?",
                    (len(instance) + 1, instance + ":"),
                )

        await self._db.write(delete)

    async def started(self, row: ProcessRow, now: str, ended: Sequence[str] = ()) -> None:
        """Journal a child process that was just spawned, and forget ``ended`` ones.

        One transaction for both: forgetting a process can wait for the next write (a stale
        row is harmless: its start time no longer matches any process).
        """

        def write(conn: Connection) -> None:
            if ended:
                conn.executemany("DELETE FROM processes WHERE marker = ?", [(m,) for m in ended])
            conn.execute(
                "INSERT INTO processes (marker, pid, start_time, started_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (marker) DO UPDATE SET pid = excluded.pid,"
                " start_time = excluded.start_time, started_at = excluded.started_at",
                (row.marker, row.pid, row.start_time, now),
            )

        await self._db.write(write)
