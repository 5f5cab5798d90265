"""``WS /ws/devteam``: live ``execution-update`` and ``execution-log`` frames, with replay.

An ASGI app sees a WebSocket only through ``send`` coroutines: Hypercorn wakes a task per
connection, takes a lock and a shielded cancel scope for each frame (three quarters of the
fan-out's time at 1,000 subscribers, bench/ws.py). So the service's own listener
(``runner.serve``) hands a connection whose request line is ``GET /ws/devteam`` to
:class:`DevteamSocket`, and every other connection to Hypercorn, on the same port. The
handshake is wsproto's. The bus's publisher then writes each event's frame, encoded once,
into every subscriber's socket without blocking (:class:`SocketTransport`).
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import structlog
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from runner.actors import text_frame
from runner.api.errors import error_body
from runner.api.json import dumps
from runner.api.ws_socket import SocketTransport
from runner.config import CUSTOMER_ID, TokenGrant
from runner.errors import ForbiddenError, InvalidInputError, RunnerError, UnauthorizedError
from runner.store import frame_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from quart_trio import QuartTrio

    from runner.actors import Subscriber
    from runner.api.services import Services

    Authenticate = Callable[[str | None, str | None], object]

__all__ = ["PATH", "DevteamSocket"]

log = structlog.get_logger(__name__)

PATH = "/ws/devteam"

_REPLAY_PAGE = 500
_POLICY_VIOLATION = 1008
_GOING_AWAY = 1001
_RECEIVE_BYTES = 65536
_CUSTOMER_ID = re.compile(CUSTOMER_ID)


class DevteamSocket:
    """Serve ``WS /ws/devteam`` on connections the service's listener routes here.

    ``authenticate(authorization_header, query_token)`` returns the connection's grant
    (``None`` when auth is off) or raises ``UnauthorizedError``; ``quart`` provides the app
    context for error bodies (their redaction).
    """

    def __init__(
        self,
        quart: QuartTrio,
        services: Services,
        authenticate: Authenticate,
        *,
        ping_interval_s: float,
        send_buffer_bytes: int,
        handshake_timeout_s: float = 10.0,
    ) -> None:
        self._quart = quart
        self._services = services
        self._authenticate = authenticate
        self._ping_interval_s = ping_interval_s
        self._send_buffer_bytes = send_buffer_bytes
        self._handshake_timeout_s = handshake_timeout_s
        self._handshaking: set[trio.CancelScope] = set()
        self._live: set[Subscriber] = set()

    @staticmethod
    def routes(request_line: bytes) -> bool:
        """Whether a connection whose first line is ``request_line`` is served here."""
        method, _, rest = request_line.partition(b" ")
        target = rest.partition(b" ")[0]
        return method == b"GET" and target.partition(b"?")[0] == PATH.encode()

    async def serve(self, sock: socket.socket, head: bytes) -> None:
        """Serve one connection; ``head`` is what the listener read of it already.

        ``sock`` is the connection's non-blocking stdlib socket; this closes it.
        """
        # A fixed kernel send buffer: a client that stops reading holds that much of the
        # kernel's memory (autotuning would let it grow to megabytes), then its queue's
        # bound applies and its updates coalesce.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._send_buffer_bytes)
        connection = trio.socket.from_stdlib_socket(sock)
        with connection:
            try:
                ws = WSConnection(ConnectionType.SERVER)
                request = None
                with trio.move_on_after(self._handshake_timeout_s) as scope:
                    self._handshaking.add(scope)
                    try:
                        request = await _read_request(connection, ws, head)
                    finally:
                        self._handshaking.discard(scope)
                if request is not None and not scope.cancel_called:
                    await self._handle(connection, sock, ws, request)
            except OSError:
                pass  # the peer went away mid-write: nothing to tell it

    def going_away(self) -> None:
        """Close every connection with 1001 after what it has queued (service shutdown)."""
        for scope in self._handshaking:
            scope.cancel()
        for subscriber in self._live:
            subscriber.close()

    async def _handle(
        self, connection: trio.socket.SocketType, sock: socket.socket, ws: WSConnection,
        request: Request,
    ) -> None:  # fmt: skip
        target = urlsplit(request.target)
        args = parse_qsl(target.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in request.extra_headers}
        authorization = headers.get(b"authorization")
        try:
            grant = self._authenticate(
                authorization.decode("latin-1") if authorization else None, _first(args, "token")
            )
        except UnauthorizedError as exc:
            await _send_all(connection, await self._rejection(ws, exc))
            return
        try:
            customers = _customers(args)
            since = _since(args)
            customers = _authorize(grant, customers)
        except RunnerError as exc:
            text = frame_json({"type": "error", **await self._error_body(exc)})
            data = ws.send(AcceptConnection()) + ws.send(TextMessage(data=text))
            await _send_all(connection, data + ws.send(CloseConnection(_POLICY_VIOLATION)))
            return
        await _send_all(connection, ws.send(AcceptConnection()))
        transport = SocketTransport(sock)
        with self._services.bus.subscribe(customers, transport) as subscriber:
            transport.attach(subscriber)
            self._live.add(subscriber)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(
                        _read_frames, connection, ws, transport, nursery.cancel_scope
                    )
                    nursery.start_soon(self._ping, ws, transport)
                    await self._replay(transport, subscriber, customers, since)
                    await _write_live(transport, subscriber, ws)
                    nursery.cancel_scope.cancel()
            finally:
                self._live.discard(subscriber)

    async def _replay(
        self, transport: SocketTransport, subscriber: Subscriber, customers: list[str] | None,
        since: int,
    ) -> None:  # fmt: skip
        """Send the stored events after ``since``; live ones wait in the queue meanwhile."""
        store = self._services.store
        if since >= 0:
            targets = customers
            if targets is None:
                targets = [r.customer_id for r in await store.customers.list()]
            for customer_id in targets:
                after = since
                while True:
                    page = await store.events.since([customer_id], after, _REPLAY_PAGE)
                    for record in page:
                        await transport.send(text_frame(record.text))
                        after = record.seq
                    if len(page) < _REPLAY_PAGE:
                        break
                subscriber.replayed[customer_id] = after
        transport.paused = False

    async def _ping(self, ws: WSConnection, transport: SocketTransport) -> None:
        while True:
            await trio.sleep(self._ping_interval_s)
            if transport.idle:  # a stalled client gets no pile of pings
                transport.push(ws.send(Ping()))

    async def _error_body(self, exc: RunnerError) -> dict[str, Any]:
        """The error body, redacted: it leaves as a frame or as the upgrade's refusal."""
        async with self._quart.app_context():
            body: dict[str, Any] = self._services.redactor.value(error_body(exc, None))
            return body

    async def _rejection(self, ws: WSConnection, exc: RunnerError) -> bytes:
        """The upgrade refused with the HTTP error response."""
        body = dumps(await self._error_body(exc))
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
        reject = RejectConnection(status_code=exc.http_status, headers=headers, has_body=True)
        return ws.send(reject) + ws.send(RejectData(data=body))


async def _read_request(
    connection: trio.socket.SocketType, ws: WSConnection, head: bytes
) -> Request | None:
    """Read the upgrade request (wsproto's handshake); answer a bad one; None if refused."""
    data = head
    while True:
        try:
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, Request):
                    return event
        except RemoteProtocolError as exc:
            hint = exc.event_hint or RejectConnection(status_code=400)
            await _send_all(connection, ws.send(hint))
            return None
        data = await connection.recv(_RECEIVE_BYTES)
        if not data:
            return None


async def _write_live(transport: SocketTransport, subscriber: Subscriber, ws: WSConnection) -> None:
    """Write what waits while the publisher cannot write directly, until the close frame.

    The publisher writes to the socket itself while the queue is empty and the socket
    takes whole frames; this task finishes a frame it could only start, sends control
    frames, and drains the queue the publisher fell back to.
    """
    while True:
        await transport.flush()
        if transport.broken or transport.closing:
            return
        try:
            event = subscriber.receive_nowait()
        except trio.WouldBlock:
            if transport.idle:
                await subscriber.wait_ready()
            continue
        except trio.EndOfChannel:  # the service is shutting down
            transport.push_close(ws.send(CloseConnection(_GOING_AWAY)))
            continue
        transport.push(event.wire)


async def _read_frames(
    connection: trio.socket.SocketType,
    ws: WSConnection,
    transport: SocketTransport,
    scope: trio.CancelScope,
) -> None:
    """Answer pings and the close handshake; end the connection when the peer leaves.

    After the peer's close frame the answer is pushed (the writer ends after sending it)
    and what else arrives is ignored until the peer hangs up.
    """
    try:
        while data := await connection.recv(_RECEIVE_BYTES):
            if transport.closing:
                continue
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, Ping):
                    transport.push(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    transport.push_close(ws.send(event.response()))
    except (OSError, RemoteProtocolError):
        pass  # a reset or a broken frame: the peer is gone either way
    scope.cancel()


async def _send_all(connection: trio.socket.SocketType, data: bytes) -> None:
    view = memoryview(data)
    while view:
        sent = await connection.send(view)
        view = view[sent:]


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
