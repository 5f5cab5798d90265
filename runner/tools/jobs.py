"""Bound the tool and verify processes running at once, fairly across customers.

:class:`JobSlots` hands out at most ``limit`` slots. When they are all taken, waiters queue
per customer and freed slots go round-robin over the customers that wait, so a customer with
many queued jobs cannot starve another: each waiting customer gets a turn before any gets a
second one.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import attrs
import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["JobSlots"]


@attrs.define
class JobSlots:
    """At most ``limit`` concurrent jobs; freed slots go round-robin by customer.

    Usage: ``async with slots.acquire(customer_id): ...``.
    """

    limit: int = attrs.field(validator=attrs.validators.ge(1))
    on_wait: Callable[[float], None] | None = None
    """Called with the seconds each granted job waited for its slot (0 when one was free)."""
    _running: int = 0
    _waiting: dict[str, collections.deque[trio.Event]] = attrs.field(factory=dict, init=False)
    _turns: collections.deque[str] = attrs.field(factory=collections.deque, init=False)

    @property
    def running(self) -> int:
        """The number of slots held now."""
        return self._running

    def waiting(self, customer_id: str | None = None) -> int:
        """The number of queued jobs (of ``customer_id`` when given)."""
        if customer_id is not None:
            return len(self._waiting.get(customer_id, ()))
        return sum(len(queue) for queue in self._waiting.values())

    @asynccontextmanager
    async def acquire(self, customer_id: str) -> AsyncIterator[None]:
        """Hold one slot for the block; wait for a fair turn when all are taken."""
        asked = trio.current_time()
        await self._take(customer_id)
        if self.on_wait is not None:
            self.on_wait(trio.current_time() - asked)
        try:
            yield
        finally:
            self._release()

    async def _take(self, customer_id: str) -> None:
        if self._running < self.limit and not self._turns:
            self._running += 1
            await trio.lowlevel.checkpoint()
            return
        granted = trio.Event()
        queue = self._waiting.setdefault(customer_id, collections.deque())
        queue.append(granted)
        if customer_id not in self._turns:
            self._turns.append(customer_id)
        try:
            await granted.wait()
        except BaseException:
            if granted.is_set():  # the slot arrived as we were cancelled: pass it on
                self._release()
            else:
                self._forget(customer_id, granted)
            raise

    def _forget(self, customer_id: str, granted: trio.Event) -> None:
        queue = self._waiting[customer_id]
        queue.remove(granted)
        if not queue:
            del self._waiting[customer_id]
            self._turns.remove(customer_id)

    def _release(self) -> None:
        self._running -= 1
        while self._running < self.limit and self._turns:
            customer_id = self._turns.popleft()
            queue = self._waiting[customer_id]
            granted = queue.popleft()
            if queue:
                self._turns.append(customer_id)
            else:
                del self._waiting[customer_id]
            self._running += 1
            granted.set()
