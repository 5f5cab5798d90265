"""``WS /ws/devteam``: live ``execution-update`` and ``execution-log`` frames, with replay."""

from __future__ import annotations

import json
import re
from typing import Any

from quart import Blueprint, websocket

from runner.api.errors import error_body
from runner.api.models import CUSTOMER_ID
from runner.api.services import services
from runner.errors import ForbiddenError, InvalidInputError, RunnerError

__all__ = ["blueprint"]

blueprint = Blueprint("ws", __name__)

_REPLAY_PAGE = 500


def _query() -> tuple[list[str] | None, int]:
    customers = websocket.args.getlist("customerId") or None
    for customer_id in customers or []:
        if not re.match(CUSTOMER_ID, customer_id):
            raise InvalidInputError("bad customer id", field="customerId")
    raw_since = websocket.args.get("since")
    try:
        since = int(raw_since) if raw_since is not None else -1
    except ValueError:
        raise InvalidInputError("must be an integer seq", field="since") from None
    return customers, since


def _authorize(customers: list[str] | None) -> list[str] | None:
    grant = getattr(websocket, "grant", None)
    if grant is None or "*" in grant.customers:
        return customers
    if customers is None:
        return list(grant.customers)
    for customer_id in customers:
        if not grant.allows(customer_id):
            raise ForbiddenError(f"this token does not reach customer {customer_id!r}")
    return customers


async def _send(frame: dict[str, Any]) -> None:
    await websocket.send(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))


@blueprint.websocket("/ws/devteam")
async def devteam() -> None:
    """Stream events; ``customerId`` filters (repeatable), ``since`` replays from the store."""
    try:
        customers, since = _query()
        customers = _authorize(customers)
    except RunnerError as exc:
        await websocket.accept()
        await _send({"type": "error", **error_body(exc, None)})
        await websocket.close(1008)
        return
    svc = services()
    await websocket.accept()
    with svc.bus.subscribe(customers) as subscriber:
        last: dict[str, int] = {}
        if since >= 0:
            targets = customers
            if targets is None:
                targets = [r.customer_id for r in await svc.store.customers.list()]
            for customer_id in targets:
                last[customer_id] = await _replay(customer_id, since)
        async for event in subscriber:
            if event.seq >= 0 and event.seq <= last.get(event.customer_id, -1):
                continue  # already replayed
            await websocket.send(event.text)


async def _replay(customer_id: str, since: int) -> int:
    """Send the customer's stored events after ``since``; return the last seq sent."""
    store = services().store
    after = since
    while True:
        page = await store.events.since([customer_id], after, _REPLAY_PAGE)
        for record in page:
            await _send({**record.payload, "seq": record.seq})
            after = record.seq
        if len(page) < _REPLAY_PAGE:
            return after
