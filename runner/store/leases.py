"""Customer leases: which instance runs a customer, until when, with which fencing token.

A lease row per customer (made on first claim) has an ``owner`` (an instance id, or NULL),
``expires_at`` and a ``token``. Time is always the database's (``Dialect.now``): instances'
clocks never decide who owns what. Each acquisition adds one to the token, so a write
fenced with a token (:func:`fence`) fails once the lease has expired or moved on, even if
its old owner wakes up from a freeze and carries on. A heartbeat renews all of an
instance's live leases in one statement; a lease already expired is not renewed, it is
lost (the instance stops that customer's work). On PostgreSQL claims skip rows another
instance is claiming at the same moment (``FOR UPDATE SKIP LOCKED``), so instances never
wait on each other for a customer; SQLite has one writer and needs no such clause.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import TYPE_CHECKING

import attrs

from runner.errors import LeaseLostError

if TYPE_CHECKING:
    import builtins
    from collections.abc import Iterator, Sequence

    from runner.store.db import Store
    from runner.store.sql import Connection, Dialect

__all__ = ["Lease", "Leases", "current_lease", "fence", "fenced"]


@attrs.frozen
class Lease:
    """A customer held by ``owner`` with fencing token ``token``."""

    customer_id: str
    owner: str
    token: int
    owner_url: str | None = None
    """Where the owner serves requests (its ``DEVTEAM_RUNNER_BASE_URL``), when known."""


def fence(conn: Connection, dialect: Dialect, lease: Lease) -> None:
    """Refuse the rest of this write transaction unless ``lease`` is still held, unexpired.

    Call it first in a write job. On PostgreSQL the row stays share-locked until the
    transaction ends, so no claim can take the lease between this check and the COMMIT.

    Raises:
        LeaseLostError: The lease expired or another instance holds it now.
    """
    row = conn.execute(
        "SELECT 1 FROM customer_leases WHERE customer_id = ? AND owner = ? AND token = ?"
        f" AND expires_at > {dialect.now}{dialect.share_lock}",
        (lease.customer_id, lease.owner, lease.token),
    ).fetchone()
    if row is None:
        raise LeaseLostError(
            f"instance {lease.owner} no longer holds customer {lease.customer_id}"
            f" (fencing token {lease.token})"
        )


_FENCE: contextvars.ContextVar[Lease | None] = contextvars.ContextVar("lease", default=None)


@contextlib.contextmanager
def fenced(lease: Lease | None) -> Iterator[None]:
    """Fence every store write made in this context (and the tasks it starts) by ``lease``.

    An actor runs inside ``fenced(its lease)``: :meth:`Store.write` checks the lease in the
    write's own transaction, so nothing an actor does is recorded once its lease is gone,
    wherever in its code the write is.
    """
    token = _FENCE.set(lease)
    try:
        yield
    finally:
        _FENCE.reset(token)


def current_lease() -> Lease | None:
    """The lease that fences this context's writes, if any."""
    return _FENCE.get()


def _by_customer(lease: Lease) -> str:
    return lease.customer_id


class Leases:
    """The ``customer_leases`` and ``instances`` tables."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def register_instance(self, instance_id: str, url: str | None, started_at: str) -> None:
        """Record a running instance and the URL other instances forward its customers to."""
        now = self._db.dialect.now
        await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO instances (instance_id, url, started_at, seen_at)"
                f" VALUES (?, ?, ?, {now}) ON CONFLICT (instance_id) DO UPDATE"
                " SET url = excluded.url, seen_at = excluded.seen_at",
                (instance_id, url, started_at),
            )
        )

    async def claim(
        self,
        owner: str,
        ttl_s: float,
        *,
        limit: int = 1,
        customer_id: str | None = None,
        unfinished: Sequence[str] = (),
    ) -> builtins.list[Lease]:
        """Take up to ``limit`` customers nobody holds (free, or their lease expired).

        The longest-free customers come first. Each taken lease gets a new token.

        Args:
            owner: The claiming instance.
            ttl_s: The lease lasts this long from now unless renewed.
            limit: The most customers to take.
            customer_id: Take only this customer (when it is free).
            unfinished: Take only customers with a run in one of these statuses (a run
                whose owner is gone: it is resumed by the instance that takes it).

        Returns:
            The leases taken (none when everything is held).
        """
        dialect = self._db.dialect
        only = " AND customer_id = ?" if customer_id is not None else ""
        if unfinished:
            statuses = ", ".join("?" for _ in unfinished)
            only += (
                f" AND customer_id IN (SELECT customer_id FROM runs WHERE status IN ({statuses}))"
            )
        pick = (
            "SELECT customer_id FROM customer_leases"
            f" WHERE (owner IS NULL OR expires_at <= {dialect.now}){only}"
            f" ORDER BY expires_at, customer_id LIMIT ?{dialect.skip_locked}"
        )
        sql = (
            f"UPDATE customer_leases SET owner = ?, token = token + 1, expires_at = {dialect.later}"
            f" WHERE customer_id IN ({pick}) RETURNING customer_id, token"
        )
        params = (
            owner,
            ttl_s,
            *((customer_id,) if customer_id is not None else ()),
            *unfinished,
            limit,
        )

        def claim(conn: Connection) -> builtins.list[Lease]:
            # A customer registered since the last claim gets its (free) lease row.
            conn.execute(
                "INSERT INTO customer_leases (customer_id, owner, token, expires_at)"
                f" SELECT customer_id, NULL, 0, {dialect.now} FROM customers WHERE true"
                " ON CONFLICT (customer_id) DO NOTHING"
            )
            rows = conn.execute(sql, params).fetchall()
            return sorted((Lease(cid, owner, int(token)) for cid, token in rows), key=_by_customer)

        return await self._db.write(claim)

    async def renew(self, owner: str, ttl_s: float) -> builtins.list[Lease]:
        """Heartbeat: extend every unexpired lease of ``owner`` by ``ttl_s`` from now.

        One statement for all of them (and the instance's ``seen_at`` in the same
        transaction). Tokens do not change.

        Returns:
            The leases still held; any other the owner had is lost.
        """
        dialect = self._db.dialect

        def renew(conn: Connection) -> builtins.list[Lease]:
            rows = conn.execute(
                f"UPDATE customer_leases SET expires_at = {dialect.later}"
                f" WHERE owner = ? AND expires_at > {dialect.now} RETURNING customer_id, token",
                (ttl_s, owner),
            ).fetchall()
            conn.execute(
                f"UPDATE instances SET seen_at = {dialect.now} WHERE instance_id = ?", (owner,)
            )
            return sorted((Lease(cid, owner, int(token)) for cid, token in rows), key=_by_customer)

        return await self._db.write(renew)

    async def release(self, owner: str, customer_ids: Sequence[str] | None = None) -> int:
        """Give up ``owner``'s leases (all, or these customers'), so others take over at once.

        Returns:
            How many leases were released.
        """
        dialect = self._db.dialect
        sql = f"UPDATE customer_leases SET owner = NULL, expires_at = {dialect.now} WHERE owner = ?"
        params: builtins.list[str] = [owner]
        if customer_ids is not None:
            if not customer_ids:
                return 0
            sql += f" AND customer_id IN ({', '.join('?' for _ in customer_ids)})"
            params.extend(customer_ids)
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount)

    async def holder(self, customer_id: str) -> Lease | None:
        """Return the customer's unexpired lease (with the owner's URL), or None."""
        now = self._db.dialect.now

        def holder(conn: Connection) -> Lease | None:
            row = conn.execute(
                "SELECT l.customer_id, l.owner, l.token, i.url FROM customer_leases l"
                " LEFT JOIN instances i ON i.instance_id = l.owner"
                f" WHERE l.customer_id = ? AND l.owner IS NOT NULL AND l.expires_at > {now}",
                (customer_id,),
            ).fetchone()
            return None if row is None else Lease(row[0], row[1], int(row[2]), row[3])

        return await self._db.read(holder)

    async def unfinished(self, statuses: Sequence[str]) -> tuple[int, dict[str, int]]:
        """Customers with a run in one of ``statuses``: how many no live lease holds, and
        how many each owner runs (what adopting instances balance)."""
        now = self._db.dialect.now
        marks = ", ".join("?" for _ in statuses)

        def count(conn: Connection) -> tuple[int, dict[str, int]]:
            rows = conn.execute(
                "SELECT CASE WHEN l.expires_at > " + now + " THEN l.owner END, count(*)"
                " FROM (SELECT DISTINCT customer_id FROM runs"
                f" WHERE status IN ({marks})) r"
                " LEFT JOIN customer_leases l ON l.customer_id = r.customer_id"
                " GROUP BY 1",
                tuple(statuses),
            ).fetchall()
            owners = {row[0]: int(row[1]) for row in rows if row[0] is not None}
            orphans = sum(int(row[1]) for row in rows if row[0] is None)
            return orphans, owners

        return await self._db.read(count)

    async def instances(self, seen_within_s: float) -> builtins.list[tuple[str, str | None]]:
        """Return the instances seen within ``seen_within_s`` (id, URL): the live ones."""
        earlier = self._db.dialect.earlier

        def live(conn: Connection) -> builtins.list[tuple[str, str | None]]:
            rows = conn.execute(
                f"SELECT instance_id, url FROM instances WHERE seen_at > {earlier}"
                " ORDER BY instance_id",
                (seen_within_s,),
            ).fetchall()
            return [(row[0], row[1]) for row in rows]

        return await self._db.read(live)

    async def forget_instances(self, instance_ids: Sequence[str]) -> None:
        """Delete these (dead) instances' rows; their leases have expired by then."""
        if not instance_ids:
            return
        marks = ", ".join("?" for _ in instance_ids)
        await self._db.write(
            lambda conn: conn.execute(
                f"DELETE FROM instances WHERE instance_id IN ({marks})", tuple(instance_ids)
            )
        )
