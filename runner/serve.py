"""``devteam-runner serve``: Hypercorn's trio worker serving the app until SIGINT/SIGTERM."""

from __future__ import annotations

import gc
import signal
from typing import TYPE_CHECKING

import structlog
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from runner.app import create_app, open_services
from runner.pipeline import PipelineStages
from runner.process import become_subreaper

if TYPE_CHECKING:
    from runner.config import Settings

__all__ = ["hypercorn_config", "serve"]

log = structlog.get_logger(__name__)


def hypercorn_config(settings: Settings, bind: str | None = None) -> Config:
    """Return the Hypercorn config for ``settings`` (``bind`` overrides host:port)."""
    config = Config()
    config.bind = [bind or f"{settings.host}:{settings.port}"]
    config.websocket_ping_interval = settings.ws_ping_interval_s
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 5.0
    return config


async def _until_signal() -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("shutting_down", signal=signal.Signals(signum).name)
            return


def tune_gc() -> None:
    """Collect young garbage less often and keep start-up objects out of collections.

    Fan-out to many WebSocket subscribers allocates many short-lived objects; with the
    default thresholds about half of the service's CPU went to the collector (bench/ws.py).
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def serve(settings: Settings) -> None:
    """Run the service until SIGINT or SIGTERM."""
    # Descendants a tool detached (setsid, double fork) are re-parented to us, not to init,
    # so that ending a job can reap them.
    subreaper = become_subreaper()
    async with open_services(settings, PipelineStages()) as services:
        app = create_app(settings, services)
        tune_gc()
        log.info("serving", bind=f"{settings.host}:{settings.port}", subreaper=subreaper)
        await hypercorn_serve(app, hypercorn_config(settings), shutdown_trigger=_until_signal)
