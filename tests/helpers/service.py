"""A real service (store, actors, its listener with Hypercorn on 127.0.0.1:0) for tests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import trio

from runner.api import Services
from runner.app import create_app, open_services
from runner.clock import utc_now
from runner.config import Settings
from runner.serve import hypercorn_config, serve_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime
    from pathlib import Path

    from runner.pipeline import Stages


@attrs.frozen
class Service:
    """A running service: its base URL, services and settings."""

    url: str
    services: Services
    settings: Settings

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """Return an HTTP client for the service."""
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.url, **kwargs)

    @property
    def ws_url(self) -> str:
        """The WebSocket base URL."""
        return self.url.replace("http://", "ws://")


def service_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings rooted in ``tmp_path`` with fast, test-friendly values."""
    values: dict[str, Any] = {
        "workspace_dir": tmp_path / "workspace",
        "database_path": tmp_path / "runner.db",
        "aider_path": "/nonexistent/aider",
        "ws_ping_interval_s": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_service(
    settings: Settings,
    stages: Stages,
    *,
    now: Callable[[], datetime] = utc_now,
    bind: str = "127.0.0.1:0",
) -> AsyncIterator[Service]:
    """Start the whole service on a free loopback port; stop it on exit."""
    async with open_services(settings, stages, now=now) as services, trio.open_nursery() as nursery:
        app = create_app(settings, services)
        config = hypercorn_config(settings, bind=bind)
        binds = await nursery.start(serve_app, app, config)
        try:
            yield Service(url=binds[0], services=services, settings=settings)
        finally:
            nursery.cancel_scope.cancel()
