"""The process journal: the lives of the service and the child processes each left running.

A row exists while a child process runs (written right after it was spawned, deleted once
its tree has been ended); the rows a crashed life left are what the next life kills before
it resumes anything. See :mod:`runner.process.containment`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = ["ProcessRow", "Processes"]


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

    async def begin_life(self, instance: str, pid: int, now: str) -> None:
        """Record that the service life ``instance`` (process ``pid``) started."""
        await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO process_lives (instance, pid, started_at) VALUES (?, ?, ?)",
                (instance, pid, now),
            )
        )

    async def left_behind(self, alive: Collection[str] = ()) -> tuple[list[str], list[ProcessRow]]:
        """Return the recorded lives and the processes still journaled, except those of the
        ``alive`` instances (other instances sharing the database)."""

        def select(conn: Connection) -> tuple[list[str], list[ProcessRow]]:
            lives = [row[0] for row in conn.execute("SELECT instance FROM process_lives")]
            rows = conn.execute("SELECT marker, pid, start_time FROM processes ORDER BY marker")
            return [life for life in lives if life not in alive], [
                ProcessRow(*row) for row in rows if row[0].partition(":")[0] not in alive
            ]

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
