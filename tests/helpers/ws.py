"""WebSocket helpers for tests: read frames until a condition holds."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trio
from trio_websocket import wrap_client_stream

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from trio_websocket import WebSocketConnection

Frame = dict[str, Any]


async def frames_until(
    ws: WebSocketConnection, done: Callable[[Frame], bool], into: list[Frame] | None = None
) -> list[Frame]:
    """Collect frames until ``done(frame)`` is true (that frame included)."""
    frames = into if into is not None else []
    while True:
        frame = json.loads(await ws.get_message())
        frames.append(frame)
        if done(frame):
            return frames


def status_is(*statuses: str, customer: str | None = None) -> Callable[[Frame], bool]:
    """A ``done`` predicate: an execution-update with one of ``statuses``."""

    def check(frame: Frame) -> bool:
        return (
            frame.get("type") == "execution-update"
            and frame.get("status") in statuses
            and (customer is None or frame.get("customerId") == customer)
        )

    return check


def statuses(frames: list[Frame]) -> list[str]:
    """The status of every execution-update, in order."""
    return [f["status"] for f in frames if f.get("type") == "execution-update"]


@asynccontextmanager
async def ws_connect(url: str) -> AsyncIterator[WebSocketConnection]:
    """Open a WebSocket whose TCP stream is always closed (trio-websocket may leak it when
    the server rejects or closes the connection)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    resource = parts.path + (f"?{parts.query}" if parts.query else "")
    stream = await trio.open_tcp_stream(host, port)
    try:
        async with trio.open_nursery() as nursery:
            ws = await wrap_client_stream(nursery, stream, host, resource)
            try:
                yield ws
            finally:
                with trio.move_on_after(2, shield=True):
                    await ws.aclose()
    finally:
        with trio.move_on_after(2, shield=True):
            await stream.aclose()
