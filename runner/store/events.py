"""The event log: every published event with a per-customer, strictly increasing ``seq``.

A ``seq`` is assigned in the same transaction that stores the event, from a per-customer
counter that pruning never resets, so it is never reused, also across restarts. WebSocket
clients replay from here with ``since``.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import attrs

from runner.store.customers import write_state
from runner.store.runs import insert_run
from runner.store.steps import write_step

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from runner.store.db import Store
    from runner.store.runs import RunRecord
    from runner.store.sql import Connection, Dialect
    from runner.store.steps import StepRecord

__all__ = ["CHANNEL", "EventRecord", "Events", "NewEvent", "frame_json"]


def frame_json(frame: Mapping[str, Any]) -> str:
    """Return the JSON text of an event frame (compact, UTF-8 as is): the one encoding the
    stored row, the WebSocket frame and replay share."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


@attrs.frozen
class StateSnapshot:
    """A customer's execution state to persist together with events."""

    customer_id: str
    state: dict[str, Any]
    updated_at: str


@attrs.frozen
class NewEvent:
    """An event to append; the store assigns its ``seq``."""

    customer_id: str
    run_id: str | None
    type: str
    payload: dict[str, Any]
    timestamp: str

    @functools.cached_property
    def payload_json(self) -> str:
        """The payload's JSON text, encoded once (in the write's transaction, on first use)."""
        return frame_json(self.payload)


@attrs.frozen
class EventRecord:
    """A stored event; ``payload_json`` is its row's text, decoded only when asked."""

    customer_id: str
    seq: int
    run_id: str | None
    type: str
    payload_json: str
    timestamp: str

    @functools.cached_property
    def payload(self) -> dict[str, Any]:
        """The payload, decoded."""
        decoded: dict[str, Any] = json.loads(self.payload_json)
        return decoded

    @property
    def text(self) -> str:
        """The event's wire frame: the payload's JSON with ``seq`` spliced in as its first
        member (no decoding and encoding again)."""
        rest = self.payload_json[1:]
        return f'{{"seq":{self.seq}{"," if rest != "}" else ""}{rest}'


_EVENT_COLUMNS = ("customer_id", "seq", "run_id", "type", "payload", "timestamp")


CHANNEL = "devteam_events"
"""Where PostgreSQL announces new events as ``<customer id>:<last seq>`` (never the event:
payloads are limited to 8,000 bytes and not durable; the table is the source of truth)."""


def _insert(conn: Connection, dialect: Dialect, events: Sequence[NewEvent]) -> list[int]:
    """Store ``events`` inside the caller's transaction and return their seqs, in order.

    Each customer's counter moves once per batch (by its number of events), then every row
    goes in with one bulk insert (``COPY`` on PostgreSQL). Where other instances listen,
    each customer's new last ``seq`` is announced when the transaction commits.
    """
    counts = Counter(event.customer_id for event in events)
    next_seq: dict[str, int] = {}
    # Counters locked in one order (by id): two instances' batches never deadlock on them.
    for customer_id, count in sorted(counts.items()):
        (last,) = conn.execute(
            "INSERT INTO event_seq (customer_id, last_seq) VALUES (?, ?)"
            " ON CONFLICT (customer_id) DO UPDATE"
            " SET last_seq = event_seq.last_seq + excluded.last_seq RETURNING last_seq",
            (customer_id, count),
        ).fetchone()
        next_seq[customer_id] = int(last) - count + 1
    seqs = []
    rows = []
    for event in events:
        seq = next_seq[event.customer_id]
        next_seq[event.customer_id] = seq + 1
        seqs.append(seq)
        rows.append(
            (event.customer_id, seq, event.run_id, event.type, event.payload_json, event.timestamp)
        )
    conn.insert_rows("events", _EVENT_COLUMNS, rows)
    if dialect.notify is not None:
        for customer_id in sorted(counts):
            conn.execute(dialect.notify, (CHANNEL, f"{customer_id}:{next_seq[customer_id] - 1}"))
    return seqs


class Events:
    """The ``events`` and ``event_seq`` tables."""

    def __init__(self, db: Store) -> None:
        self._db = db

    async def append(
        self,
        customer_id: str,
        run_id: str | None,
        type: str,  # noqa: A002  # the event's type, as on the wire
        payload: dict[str, Any],
        timestamp: str,
    ) -> int:
        """Store one event and return its new ``seq``."""
        event = NewEvent(customer_id, run_id, type, payload, timestamp)
        dialect = self._db.dialect
        return (await self._db.write(lambda conn: _insert(conn, dialect, [event])))[0]

    async def append_many(
        self,
        events: Sequence[NewEvent],
        *,
        state: StateSnapshot | None = None,
        steps: Sequence[StepRecord] = (),
        new_run: RunRecord | None = None,
    ) -> list[EventRecord]:
        """Store a batch of events in one transaction (all or none).

        Args:
            events: The events, in order.
            state: A customer's execution state to save in the same transaction (one
                fsync for "persist the state, then publish its events").
            steps: Stage results to record in the same transaction (a manual stage's result
                and the state that ends the stage).
            new_run: A run to create in the same transaction (a run and the state that
                starts it: both or neither).

        Returns:
            The stored records, in the given order, with their seqs.
        """
        batch = tuple(events)
        dialect = self._db.dialect

        def append_all(conn: Connection) -> list[EventRecord]:
            if new_run is not None:
                insert_run(conn, new_run)
            if state is not None:
                write_state(conn, state.customer_id, state.state, state.updated_at)
            for step in steps:
                write_step(conn, step)
            seqs = _insert(conn, dialect, batch) if batch else []
            return [
                EventRecord(e.customer_id, seq, e.run_id, e.type, e.payload_json, e.timestamp)
                for e, seq in zip(batch, seqs, strict=True)
            ]

        if not batch and state is None and not steps and new_run is None:
            return []
        return await self._db.write(append_all)

    async def since(
        self, customer_ids: Sequence[str] | None, after_seq: int, limit: int
    ) -> list[EventRecord]:
        """Return up to ``limit`` events with ``seq > after_seq``, oldest first.

        Args:
            customer_ids: Only these customers' events; None for every customer.
            after_seq: Each customer's events after this seq (0 for all retained ones).
            limit: The most events to return.
        """
        where, order = "seq > ?", "id"
        params: list[Any] = [after_seq]
        if customer_ids is not None:
            ids = list(dict.fromkeys(customer_ids))
            if not ids:
                return []
            where += f" AND customer_id IN ({', '.join('?' for _ in ids)})"
            params.extend(ids)
            if len(ids) == 1:
                order = "seq"  # same order for one customer, and it walks the index: no sort
        sql = (
            "SELECT customer_id, seq, run_id, type, payload, timestamp FROM events"
            f" WHERE {where} ORDER BY {order} LIMIT ?"
        )

        def select(conn: Connection) -> list[EventRecord]:
            rows = conn.execute(sql, (*params, limit))
            return [
                EventRecord(customer, seq, run_id, kind, payload, timestamp)
                for customer, seq, run_id, kind, payload, timestamp in rows
            ]

        return await self._db.read(select)

    async def last_seq(self, customer_id: str) -> int:
        """Return the customer's last assigned seq (0 if it has none yet)."""

        def last(conn: Connection) -> int:
            row = conn.execute(
                "SELECT last_seq FROM event_seq WHERE customer_id = ?", (customer_id,)
            ).fetchone()
            return 0 if row is None else int(row[0])

        return await self._db.read(last)

    async def last_seqs(self) -> dict[str, int]:
        """Return every customer's last assigned seq (one row per customer with events)."""

        def last(conn: Connection) -> dict[str, int]:
            rows = conn.execute("SELECT customer_id, last_seq FROM event_seq").fetchall()
            return {row[0]: int(row[1]) for row in rows}

        return await self._db.read(last)

    async def prune(self, keep_per_customer: int) -> int:
        """Delete all but each customer's newest ``keep_per_customer`` events.

        Returns:
            How many events were deleted.
        """

        keep = max(keep_per_customer, 0)

        def prune(conn: Connection) -> int:
            counters = conn.execute("SELECT customer_id, last_seq FROM event_seq").fetchall()
            deleted = 0
            for customer_id, last_seq in counters:
                cursor = conn.execute(
                    "DELETE FROM events WHERE customer_id = ? AND seq <= ?",
                    (customer_id, last_seq - keep),
                )
                deleted += cursor.rowcount
            return deleted

        return await self._db.write(prune)
