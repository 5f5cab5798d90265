"""Idempotency keys for every POST (CONTRACT §7), on top of the store's records.

Same key + same payload replays the stored status and body byte for byte; another payload
is 422; while the first request is still running, a second one waits for it (up to
``IDEMPOTENCY_WAIT_S``) and then gets its result, else 409 with ``Retry-After``. The
execution itself is shielded from a client that disconnects, so a retry never runs twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
import trio

from runner.api.json import request_hash
from runner.clock import iso_utc
from runner.config import Settings
from runner.errors import IdempotencyKeyInFlightError, IdempotencyKeyReusedError
from runner.store import Begin, InFlight, Mismatch, Replay, Started, Store

__all__ = ["Idempotency", "StoredResponse"]

REPLAY_HEADER = "Idempotent-Replayed"
_POLL_S = 0.5


@attrs.frozen
class StoredResponse:
    """A response as it is kept for replays."""

    status: int
    body: bytes
    headers: dict[str, str] = attrs.field(factory=dict)


Execute = Callable[[], Awaitable[StoredResponse]]


@attrs.define(eq=False)
class Idempotency:
    """Run a request at most once per ``(scope, key)``."""

    store: Store
    settings: Settings
    now: Callable[[], datetime]
    instance: str | None = None
    """This instance, where several share the database (its in-flight keys are its own)."""
    _running: dict[tuple[str, str], trio.Event] = attrs.field(factory=dict)

    async def run(
        self, scope: str, key: str | None, payload: Any, execute: Execute
    ) -> StoredResponse:
        """Execute once for this key and payload, or return what the first execution returned.

        Raises:
            IdempotencyKeyReusedError: the key was used with another payload.
            IdempotencyKeyInFlightError: the first request is still running after the wait.
        """
        if key is None:
            return await execute()
        digest = request_hash(payload)
        deadline = trio.current_time() + self.settings.idempotency_wait_s
        while True:
            running = self._running.get((scope, key))
            if running is not None:  # the same key is executing in this process: wait for it
                await self._wait(running, deadline)
                continue
            claim = self._running[(scope, key)] = trio.Event()
            try:
                begin = await self._begin(scope, key, digest)
                if isinstance(begin, Started):
                    return await self._execute(scope, key, execute)
            finally:
                if self._running.get((scope, key)) is claim:
                    del self._running[(scope, key)]
                claim.set()
            if isinstance(begin, Replay):
                headers = {**begin.headers, REPLAY_HEADER: "true"}
                return StoredResponse(begin.status, begin.body, headers)
            if isinstance(begin, Mismatch):
                raise IdempotencyKeyReusedError(
                    "this idempotency key was used with a different payload",
                    details=[{"field": "idempotencyKey", "message": "reused with other payload"}],
                )
            assert isinstance(begin, InFlight)  # started elsewhere: poll until the deadline
            await self._wait(trio.Event(), min(deadline, trio.current_time() + _POLL_S))

    async def _begin(self, scope: str, key: str, digest: str) -> Begin:
        now = self.now()
        expires = now + timedelta(hours=self.settings.idempotency_ttl_hours)
        return await self.store.idempotency.begin(
            scope, key, digest, iso_utc(now), iso_utc(expires), self.instance
        )

    async def _wait(self, event: trio.Event, deadline: float) -> None:
        if trio.current_time() >= deadline:
            raise IdempotencyKeyInFlightError(retry_after_s=1)
        with trio.move_on_at(deadline):
            await event.wait()

    async def _execute(self, scope: str, key: str, execute: Execute) -> StoredResponse:
        with trio.CancelScope(shield=True):  # a disconnecting client must not half-run it
            try:
                response = await execute()
            except BaseException:
                await self.store.idempotency.abandon(scope, key)
                raise
            headers = {"Content-Type": response.headers.get("Content-Type", "application/json")}
            await self.store.idempotency.complete(
                scope, key, response.status, response.body, headers
            )
        return response
