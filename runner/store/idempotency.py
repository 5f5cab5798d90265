"""Idempotency records (CONTRACT §7): one row per ``(scope, key)``.

A row is *in flight* from :meth:`IdempotencyRecords.begin` until
:meth:`~IdempotencyRecords.complete` stores the response (status, body bytes, headers),
which is then replayed byte for byte until ``expires_at``. ``begin`` checks and inserts in
one write transaction, so of two concurrent requests with one key exactly one is told to
execute. The HTTP glue and the in-process wait for an in-flight twin live above this.

Times are ISO-8601 strings; they are normalised to UTC microseconds (``...Z``) before
being stored or compared, so ``+00:00`` and ``Z`` spellings compare correctly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runner.store.db import Store
    from runner.store.sql import Connection

__all__ = [
    "Begin",
    "IdempotencyRecords",
    "InFlight",
    "Mismatch",
    "Replay",
    "Started",
    "normalize_timestamp",
]


@attrs.frozen
class Started:
    """No live record existed; an in-flight one was inserted. The caller executes."""


@attrs.frozen
class Replay:
    """The key completed with the same request: return this response again."""

    status: int
    body: bytes
    headers: dict[str, str]


@attrs.frozen
class Mismatch:
    """The key was used with a different request (422 ``idempotency_key_reused``)."""


@attrs.frozen
class InFlight:
    """The same request is still executing elsewhere; wait for it or answer 409."""


Begin: TypeAlias = Started | Replay | Mismatch | InFlight
"""What :meth:`IdempotencyRecords.begin` found."""


def normalize_timestamp(value: str) -> str:
    """Return ``value`` (ISO-8601, naive = UTC) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Raises:
        ValueError: ``value`` is not an ISO-8601 timestamp.
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _begin(
    conn: Connection,
    scope: str,
    key: str,
    request_hash: str,
    now: str,
    expires_at: str,
    instance: str | None,
) -> Begin:
    # Insert, or replace an expired row, in one statement: of two processes claiming one
    # key at once, the second waits on the first's row lock and then finds it live.
    claimed = conn.execute(
        "INSERT INTO idempotency"
        " (scope, key, request_hash, status, body, headers, created_at, expires_at, instance)"
        " VALUES (?, ?, ?, NULL, NULL, NULL, ?, ?, ?)"
        " ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash,"
        " status = NULL, body = NULL, headers = NULL, created_at = excluded.created_at,"
        " expires_at = excluded.expires_at, instance = excluded.instance"
        " WHERE idempotency.expires_at <= ? RETURNING scope",
        (scope, key, request_hash, now, expires_at, instance, now),
    ).fetchone()
    if claimed is not None:
        return Started()
    stored_hash, status, body, headers = conn.execute(
        "SELECT request_hash, status, body, headers FROM idempotency WHERE scope = ? AND key = ?",
        (scope, key),
    ).fetchone()
    if stored_hash != request_hash:
        return Mismatch()
    if status is None:
        return InFlight()
    return Replay(status=int(status), body=bytes(body), headers=json.loads(headers))


class IdempotencyRecords:
    """The ``idempotency`` table."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def begin(
        self,
        scope: str,
        key: str,
        request_hash: str,
        now: str,
        expires_at: str,
        instance: str | None = None,
    ) -> Begin:
        """Claim ``(scope, key)`` for a request, or report what holds it.

        A row with ``expires_at <= now`` counts as absent and is replaced.

        Args:
            scope: The caller-built scope (customer, token, route).
            key: The client's idempotency key.
            request_hash: A digest of the request payload.
            now: The current time.
            expires_at: When a record made now stops being replayed.
            instance: The service instance that executes the request.
        """
        now, expires_at = normalize_timestamp(now), normalize_timestamp(expires_at)
        return await self._db.write(
            lambda conn: _begin(conn, scope, key, request_hash, now, expires_at, instance)
        )

    async def complete(
        self, scope: str, key: str, status: int, body: bytes, headers: dict[str, str]
    ) -> bool:
        """Store the response of an in-flight request for replay.

        Returns:
            False when no in-flight row exists (it was abandoned, cleared or completed).
        """

        def complete(conn: Connection) -> bool:
            cursor = conn.execute(
                "UPDATE idempotency SET status = ?, body = ?, headers = ?"
                " WHERE scope = ? AND key = ? AND status IS NULL",
                (status, bytes(body), json.dumps(headers), scope, key),
            )
            return cursor.rowcount == 1

        return await self._db.write(complete)

    async def abandon(self, scope: str, key: str) -> bool:
        """Delete an in-flight row whose execution crashed, so that a retry can run.

        Returns:
            Whether an in-flight row was deleted (a completed one is kept).
        """

        def abandon(conn: Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM idempotency WHERE scope = ? AND key = ? AND status IS NULL",
                (scope, key),
            )
            return cursor.rowcount == 1

        return await self._db.write(abandon)

    async def purge_expired(self, now: str) -> int:
        """Delete every record with ``expires_at <= now``; return how many."""
        cutoff = normalize_timestamp(now)
        return await self._db.write(
            lambda conn: (
                conn.execute("DELETE FROM idempotency WHERE expires_at <= ?", (cutoff,)).rowcount
            )
        )

    async def clear_in_flight(self, instances: Sequence[str] | None = None) -> int:
        """Delete the in-flight rows of these (dead) instances, or every one (at startup of
        the only instance: their process is gone); return how many.

        Rows that name no instance (written before instances were recorded) go too.
        """
        sql = "DELETE FROM idempotency WHERE status IS NULL"
        if instances is not None:
            marks = ", ".join("?" for _ in instances) or "NULL"
            sql += f" AND (instance IS NULL OR instance IN ({marks}))"
        params = tuple(instances or ())
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount)

    async def count(self) -> dict[str, int]:
        """Return ``{"in_flight": n, "completed": m}`` (for metrics and tests)."""

        def count(conn: Connection) -> dict[str, int]:
            in_flight, completed = conn.execute(
                "SELECT COALESCE(SUM(CASE WHEN status IS NULL THEN 1 ELSE 0 END), 0),"
                " COALESCE(SUM(CASE WHEN status IS NULL THEN 0 ELSE 1 END), 0) FROM idempotency"
            ).fetchone()
            return {"in_flight": int(in_flight), "completed": int(completed)}

        return await self._db.read(count)
