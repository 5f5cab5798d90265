"""``WS /ws/devteam``: live ``execution-update`` and ``execution-log`` frames, with replay.

The endpoint is served by ``DevteamSocket``, a small raw ASGI handler in front of the Quart
app (``create_app`` installs it as ``app.asgi_app``); every other scope goes to Quart. The
fan-out sends each event's pre-encoded text straight to Hypercorn: Quart's websocket layer
(its send channel, signals and per-message wrappers) cost more server CPU per frame than
Hypercorn and wsproto together at 1,000 subscribers (bench/ws.py).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import trio

from runner.api.errors import error_body
from runner.api.json import dumps
from runner.config import CUSTOMER_ID, TokenGrant
from runner.errors import ForbiddenError, InvalidInputError, RunnerError, UnauthorizedError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from quart_trio import QuartTrio

    from runner.actors import Subscriber
    from runner.api.services import Services

    # Loose ASGI types: Quart's ``asgi_app`` takes its TypedDict unions, which these accept.
    Scope = Mapping[str, Any]
    Receive = Callable[[], Awaitable[Mapping[str, Any]]]
    Send = Callable[[Any], Awaitable[None]]
    ASGIApp = Callable[..., Awaitable[None]]
    Authenticate = Callable[[str | None, str | None], object]

__all__ = ["PATH", "DevteamSocket"]

PATH = "/ws/devteam"

_REPLAY_PAGE = 500
_POLICY_VIOLATION = 1008
_NORMAL_CLOSURE = 1000
_CUSTOMER_ID = re.compile(CUSTOMER_ID)


class DevteamSocket:
    """ASGI middleware: serve ``WS /ws/devteam`` directly, pass everything else to ``app``.

    ``authenticate(authorization_header, query_token)`` returns the connection's grant
    (``None`` when auth is off) or raises ``UnauthorizedError``; ``quart`` provides the app
    context for error bodies (their redaction).
    """

    def __init__(
        self, app: ASGIApp, quart: QuartTrio, services: Services, authenticate: Authenticate
    ) -> None:
        self.app = app
        self._quart = quart
        self._services = services
        self._authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] == "websocket" and scope["path"] == PATH:
            await self._serve(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        args = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        try:
            grant = self._authenticate(_header(scope, b"authorization"), _first(args, "token"))
        except UnauthorizedError as exc:
            await self._reject(send, exc)
            return
        try:
            customers = _customers(args)
            since = _since(args)
            customers = _authorize(grant, customers)
        except RunnerError as exc:
            await send({"type": "websocket.accept"})
            body = await self._error_body(exc)
            await send({"type": "websocket.send", "text": _encode({"type": "error", **body})})
            await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
            return
        await send({"type": "websocket.accept"})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_disconnect, receive, nursery.cancel_scope)
            await _stream(self._services, send, customers, since)
            await send({"type": "websocket.close", "code": _NORMAL_CLOSURE})
            nursery.cancel_scope.cancel()

    async def _error_body(self, exc: RunnerError) -> dict[str, Any]:
        """The error body, redacted: it leaves as a frame or as the upgrade's refusal."""
        async with self._quart.app_context():
            body: dict[str, Any] = self._services.redactor.value(error_body(exc, None))
            return body

    async def _reject(self, send: Send, exc: RunnerError) -> None:
        """Refuse the upgrade with the HTTP error response (the ASGI http.response extension)."""
        body = dumps(await self._error_body(exc))
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
        await send({"type": "websocket.http.response.start", "status": exc.http_status,
                    "headers": headers})  # fmt: skip
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})


async def _watch_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    """Cancel the stream when the client goes away (incoming messages are ignored)."""
    while (await receive())["type"] != "websocket.disconnect":
        pass
    scope.cancel()


async def _stream(services: Services, send: Send, customers: list[str] | None, since: int) -> None:
    """Replay from the store after ``since``, then send live events until the bus closes."""
    with services.bus.subscribe(customers) as subscriber:
        last: dict[str, int] = {}
        if since >= 0:
            targets = customers
            if targets is None:
                targets = [r.customer_id for r in await services.store.customers.list()]
            for customer_id in targets:
                last[customer_id] = await _replay(services, send, customer_id, since)
        await _live(subscriber, send, last)


async def _live(subscriber: Subscriber, send: Send, last: dict[str, int]) -> None:
    """Send live events; ``receive`` returns at once while events are queued, so a backlog
    goes out back to back and the task waits only when the queue is empty."""
    async for event in subscriber:
        if last and 0 <= event.seq <= last.get(event.customer_id, -1):
            continue  # already replayed
        await send({"type": "websocket.send", "text": event.text})


async def _replay(services: Services, send: Send, customer_id: str, since: int) -> int:
    """Send the customer's stored events after ``since``; return the last seq sent."""
    after = since
    while True:
        page = await services.store.events.since([customer_id], after, _REPLAY_PAGE)
        for record in page:
            text = _encode({**record.payload, "seq": record.seq})
            await send({"type": "websocket.send", "text": text})
            after = record.seq
        if len(page) < _REPLAY_PAGE:
            return after


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _first(args: list[tuple[str, str]], name: str) -> str | None:
    """The first value of query argument ``name`` (as Quart's ``args.get``)."""
    return next((value for key, value in args if key == name), None)


def _customers(args: list[tuple[str, str]]) -> list[str] | None:
    customers = [value for key, value in args if key == "customerId"]
    for customer_id in customers:
        if not _CUSTOMER_ID.match(customer_id):
            raise InvalidInputError("bad customer id", field="customerId")
    return customers or None


def _since(args: list[tuple[str, str]]) -> int:
    raw = _first(args, "since")
    try:
        return int(raw) if raw is not None else -1
    except ValueError:
        raise InvalidInputError("must be an integer seq", field="since") from None


def _authorize(grant: object, customers: list[str] | None) -> list[str] | None:
    """Narrow ``customers`` to the grant's reach; 403 for a customer it does not reach."""
    if not isinstance(grant, TokenGrant) or "*" in grant.customers:
        return customers
    if customers is None:
        return list(grant.customers)
    for customer_id in customers:
        if not grant.allows(customer_id):
            raise ForbiddenError(f"this token does not reach customer {customer_id!r}")
    return customers
