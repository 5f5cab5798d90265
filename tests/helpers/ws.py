"""WebSocket helpers for tests: read frames until a condition holds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

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
