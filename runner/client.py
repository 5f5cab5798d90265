"""A Python client for the service: HTTP calls and a reconnecting event stream.

The stream reconnects with exponential backoff with full jitter (capped at 30 s) and
resumes with ``since`` so that nothing still retained by the server is missed::

    async with RunnerClient("http://127.0.0.1:8081", token=None) as client:
        await client.run("acme")
        async with client.events(["acme"]) as frames:
            async for frame in frames:
                print(frame["type"], frame.get("status"))
"""

from __future__ import annotations

import json
import random
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import attrs
import httpx
import structlog
import trio
from trio_websocket import ConnectionClosed, HandshakeError, wrap_client_stream

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Sequence
    from types import TracebackType

__all__ = ["Backoff", "RunnerClient", "RunnerClientError"]

log = structlog.get_logger(__name__)

_CLOSE_TIMEOUT_S = 2.0
_DISCONNECTS = (ConnectionClosed, HandshakeError, OSError, trio.BrokenResourceError)


class RunnerClientError(Exception):
    """The service answered with an error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error", {})
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.body = body
        self.code = error.get("code")


@attrs.define
class Backoff:
    """Exponential backoff with full jitter: delay_n = uniform(0, min(cap, initial * factor^n))."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    rng: random.Random = attrs.field(factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """Return the next delay and advance."""
        ceiling = min(self.cap, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        """Start again from the initial delay (after a healthy connection)."""
        self.attempt = 0

    def delays(self) -> Iterator[float]:
        """Yield delays forever."""
        while True:
            yield self.next_delay()


@attrs.define
class RunnerClient:
    """HTTP + WebSocket client for devteam-runner."""

    base_url: str
    token: str | None = None
    backoff: Backoff = attrs.field(factory=Backoff)
    _http: httpx.AsyncClient = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60)

    async def __aenter__(self) -> RunnerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send a request; return the JSON body or raise :class:`RunnerClientError`."""
        response = await self._http.request(method, path, **kwargs)
        body: dict[str, Any] = response.json()
        if response.status_code >= 400:
            raise RunnerClientError(response.status_code, body)
        return body

    async def put_customer(self, customer_id: str, repo_url: str, **fields: Any) -> dict[str, Any]:
        """Register or update a customer."""
        return await self.request(
            "PUT", f"/customers/{customer_id}", json={"repoUrl": repo_url, **fields}
        )

    async def customer(self, customer_id: str) -> dict[str, Any]:
        """Return the customer with its execution state."""
        return await self.request("GET", f"/customers/{customer_id}")

    async def run(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        """Start the autopilot."""
        return await self.request("POST", f"/customers/{customer_id}/run", json=fields)

    async def transition(self, customer_id: str, action: str) -> dict[str, Any]:
        """``pause``, ``resume`` or ``stop``."""
        return await self.request("POST", f"/customers/{customer_id}/{action}", json={})

    def _ws_url(self, customers: Sequence[str] | None, since: int | None) -> str:
        params: list[tuple[str, str]] = [("customerId", c) for c in customers or ()]
        if since is not None:
            params.append(("since", str(since)))
        if self.token:
            params.append(("token", self.token))
        base = self.base_url.replace("http://", "ws://").replace("https://", "wss://")
        return f"{base}/ws/devteam" + (f"?{urlencode(params)}" if params else "")

    @asynccontextmanager
    async def events(
        self, customers: Sequence[str] | None = None, *, since: int | None = None
    ) -> AsyncIterator[trio.MemoryReceiveChannel[dict[str, Any]]]:
        """Stream event frames, reconnecting with backoff and resuming with ``since``.

        Use as ``async with client.events(["acme"]) as frames: async for frame in frames``.
        """
        send, receive = trio.open_memory_channel[dict[str, Any]](1024)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._follow, send, customers, since)
            async with receive:
                yield receive
            nursery.cancel_scope.cancel()

    async def _follow(
        self,
        send: trio.MemorySendChannel[dict[str, Any]],
        customers: Sequence[str] | None,
        since: int | None,
    ) -> None:
        last: dict[str, int] = {}
        resume_from = since
        async with send:
            while True:
                error = await self._stream_once(self._ws_url(customers, resume_from), send, last)
                delay = self.backoff.next_delay()
                log.info("ws_reconnecting", error=error, delay=round(delay, 2))
                await trio.sleep(delay)
                resume_from = min(last.values()) if last else since

    async def _stream_once(
        self, url: str, send: trio.MemorySendChannel[dict[str, Any]], last: dict[str, int]
    ) -> str:
        """Connect once and forward frames until the connection ends; return why it ended.

        The TCP stream is opened here (not by ``open_websocket_url``) so that it is closed
        even when the handshake fails halfway (e.g. while the server restarts).
        """
        parts = urlsplit(url)
        host, secure = parts.hostname or "127.0.0.1", parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        resource = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] = (
                await trio.open_ssl_over_tcp_stream(host, port)
                if secure
                else await trio.open_tcp_stream(host, port)
            )
        except OSError as exc:
            return type(exc).__name__
        async with trio.open_nursery() as nursery:
            try:
                ws = await wrap_client_stream(nursery, stream, host, resource)
            except _DISCONNECTS as exc:
                with trio.move_on_after(_CLOSE_TIMEOUT_S, shield=True):
                    await stream.aclose()
                return type(exc).__name__
            try:
                while True:
                    frame = json.loads(await ws.get_message())
                    self.backoff.reset()
                    if not self._seen(frame, last):
                        await send.send(frame)
            except _DISCONNECTS as exc:
                return type(exc).__name__
            finally:
                with trio.move_on_after(_CLOSE_TIMEOUT_S, shield=True):
                    await ws.aclose()
                with trio.move_on_after(_CLOSE_TIMEOUT_S, shield=True):
                    await stream.aclose()

    @staticmethod
    def _seen(frame: dict[str, Any], last: dict[str, int]) -> bool:
        """Track the last seq per customer; True for a frame already delivered."""
        customer, seq = frame.get("customerId"), frame.get("seq", -1)
        if not isinstance(seq, int) or seq < 0 or customer is None:
            return False
        if seq <= last.get(customer, -1):
            return True
        last[customer] = seq
        return False
