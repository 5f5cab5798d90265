"""Bound the tool and verify processes running at once, fairly across customers.

:class:`JobSlots` hands out at most ``limit`` slots. When they are all taken, waiters queue
per customer and freed slots go round-robin over the customers that wait, so a customer with
many queued jobs cannot starve another: each waiting customer gets a turn before any gets a
second one.

A job that finishes a task (VERIFY, after the task's IMPLEMENT) goes before the jobs that
start one. Served in one round-robin, every customer's VERIFY would queue behind all the
other customers' IMPLEMENTs: they would all verify at about the same moment, then merge and
prepare their next task at the same moment while the slots stand idle, in waves. Finishing
first keeps the customers out of step, and a task's result arrives sooner.
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
class _Turns:
    """Queued jobs by customer, handed out round-robin over the customers."""

    _waiting: dict[str, collections.deque[trio.Event]] = attrs.field(factory=dict)
    _order: collections.deque[str] = attrs.field(factory=collections.deque)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    def of(self, customer_id: str) -> int:
        return len(self._waiting.get(customer_id, ()))

    def add(self, customer_id: str, granted: trio.Event) -> None:
        self._waiting.setdefault(customer_id, collections.deque()).append(granted)
        if customer_id not in self._order:
            self._order.append(customer_id)

    def forget(self, customer_id: str, granted: trio.Event) -> None:
        queue = self._waiting[customer_id]
        queue.remove(granted)
        if not queue:
            del self._waiting[customer_id]
            self._order.remove(customer_id)

    def next(self) -> trio.Event | None:
        """The next customer's first job (that customer goes to the back), or None."""
        if not self._order:
            return None
        customer_id = self._order.popleft()
        queue = self._waiting[customer_id]
        granted = queue.popleft()
        if queue:
            self._order.append(customer_id)
        else:
            del self._waiting[customer_id]
        return granted


@attrs.define
class JobSlots:
    """At most ``limit`` concurrent jobs; freed slots go round-robin by customer, finishing
    jobs first.

    Usage: ``async with slots.acquire(customer_id): ...``.
    """

    limit: int = attrs.field(validator=attrs.validators.ge(1))
    on_wait: Callable[[float], None] | None = None
    """Called with the seconds each granted job waited for its slot (0 when one was free)."""
    _running: int = 0
    _finishing: _Turns = attrs.field(factory=_Turns, init=False)
    _starting: _Turns = attrs.field(factory=_Turns, init=False)

    @property
    def running(self) -> int:
        """The number of slots held now."""
        return self._running

    def waiting(self, customer_id: str | None = None) -> int:
        """The number of queued jobs (of ``customer_id`` when given)."""
        if customer_id is not None:
            return self._finishing.of(customer_id) + self._starting.of(customer_id)
        return len(self._finishing) + len(self._starting)

    @asynccontextmanager
    async def acquire(self, customer_id: str, *, finishing: bool = False) -> AsyncIterator[None]:
        """Hold one slot for the block; wait for a fair turn when all are taken.

        ``finishing``: the job finishes a task (VERIFY); it goes before queued jobs that start
        one, round-robin among the customers with such a job.
        """
        asked = trio.current_time()
        await self._take(customer_id, self._finishing if finishing else self._starting)
        if self.on_wait is not None:
            self.on_wait(trio.current_time() - asked)
        try:
            yield
        finally:
            self._release()

    async def _take(self, customer_id: str, turns: _Turns) -> None:
        if self._running < self.limit and not self.waiting():
            self._running += 1
            await trio.lowlevel.checkpoint()
            return
        granted = trio.Event()
        turns.add(customer_id, granted)
        try:
            await granted.wait()
        except BaseException:
            if granted.is_set():  # the slot arrived as we were cancelled: pass it on
                self._release()
            else:
                turns.forget(customer_id, granted)
            raise

    def _release(self) -> None:
        self._running -= 1
        while self._running < self.limit:
            granted = self._finishing.next()
            if granted is None:
                granted = self._starting.next()
            if granted is None:
                return
            self._running += 1
            granted.set()
