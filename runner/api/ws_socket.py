"""A WebSocket's socket as the event bus's transport: write now, or finish later in order.

The bus's publisher writes each event's frame (encoded once for every subscriber) straight
into the socket with a non-blocking ``send``. What the socket does not take at once is
finished by the connection's own task; until then the publisher writes nothing more and
the subscriber's bounded, coalescing queue holds the events. Control frames (ping, pong,
close) and replayed frames go out between frames, never inside one.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    import socket

    from runner.actors import Subscriber

__all__ = ["SocketTransport"]


class SocketTransport:
    """Ordered, non-blocking writes of whole frames to one connected socket.

    ``sock`` is the non-blocking stdlib socket the connection's trio socket wraps: the
    publisher calls its ``send`` synchronously (no task switch, no lock per subscriber).
    """

    # Slots: the publisher reads this object once per frame, right after a syscall.
    __slots__ = ("_before", "_closing", "_direct", "_paused", "_sock", "_subscriber",
                 "_unsent", "broken")  # fmt: skip

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._unsent: memoryview | None = None  # the rest of a frame partly written
        self._before: deque[bytes] = deque()  # frames that go before any queued event
        self._subscriber: Subscriber | None = None
        self._paused = True
        self._closing = False
        # Whether the publisher may write: nothing unsent, nothing pushed, not paused, not
        # closing. One flag, so the publisher's check per subscriber is one load.
        self._direct = False
        self.broken = False
        """The peer is gone (a write failed): nothing more is written; the reader ends it."""

    def _update(self) -> None:
        self._direct = not (self._unsent is not None or self._before or self._paused
                            or self._closing)  # fmt: skip

    @property
    def paused(self) -> bool:
        """While paused (replaying), the publisher's events wait in the queue."""
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self._paused = value
        self._update()

    @property
    def closing(self) -> bool:
        """A close frame is pushed: nothing may follow it."""
        return self._closing

    def attach(self, subscriber: Subscriber) -> None:
        """Wake ``subscriber``'s writer (:meth:`Subscriber.wait_ready`) when frames wait here."""
        self._subscriber = subscriber

    def write_nowait(self, data: bytes) -> bool:
        """Write ``data`` if nothing waits before it; see :class:`runner.actors.Transport`."""
        if not self._direct:
            return False
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            return False
        except OSError:
            self._broke()
            return True  # nobody will read it: do not queue it either
        if sent < len(data):
            self._unsent = memoryview(data)[sent:]
            self._direct = False
            self._wake()
        return True

    def push(self, data: bytes) -> None:
        """Queue a frame to go out before any further event (control or replayed frame).

        Only the connection's writing task writes what is pushed (:meth:`flush`): one task
        at a time may wait for the socket to take more.
        """
        if not self._closing and not self.broken:
            self._before.append(data)
            self._direct = False
            self._wake()

    def push_close(self, data: bytes) -> None:
        """Push the close frame: the last one this connection sends."""
        self.push(data)
        self._closing = True
        self._update()

    @property
    def idle(self) -> bool:
        """Whether no frame (or part of one) waits to be written here."""
        return self._unsent is None and not self._before

    async def flush(self) -> None:
        """Write the unfinished frame and the pushed ones, waiting while the socket is full."""
        while not self.broken:
            if self._unsent is None:
                if not self._before:
                    self._update()
                    return
                self._unsent = memoryview(self._before.popleft())
            try:
                sent = self._sock.send(self._unsent)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._broke()
                return
            if sent == len(self._unsent):
                self._unsent = None
                await trio.lowlevel.checkpoint()
            else:
                self._unsent = self._unsent[sent:]
                await trio.lowlevel.wait_writable(self._sock)

    def _broke(self) -> None:
        self.broken = True
        self._unsent = None
        self._before.clear()
        self._closing = True  # nothing more can go out
        self._direct = False

    async def send(self, data: bytes) -> None:
        """Write ``data`` after everything before it, waiting while the socket is full."""
        self.push(data)
        await self.flush()

    def _wake(self) -> None:
        if self._subscriber is not None:
            self._subscriber.wake()
