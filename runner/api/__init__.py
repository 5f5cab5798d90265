"""The HTTP and WebSocket API (only ``runner.app`` imports this package)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.api.errors import error_response, install_error_handlers
from runner.api.forward import forward
from runner.api.health import HealthProbe
from runner.api.idempotency import Idempotency
from runner.api.openapi import OpenAPI
from runner.api.routes_web import WEB_DIR, is_page_path
from runner.api.services import Services
from runner.api.ws import DevteamSocket

if TYPE_CHECKING:
    from quart import Blueprint

__all__ = [
    "WEB_DIR",
    "DevteamSocket",
    "HealthProbe",
    "Idempotency",
    "OpenAPI",
    "Services",
    "blueprints",
    "error_response",
    "forward",
    "install_error_handlers",
    "is_page_path",
]


def blueprints() -> list[Blueprint]:
    """Return every route blueprint (``/ws/devteam`` is served by ``DevteamSocket``)."""
    from runner.api import (
        routes_customers,
        routes_health,
        routes_runs,
        routes_stages,
        routes_tasks,
        routes_web,
    )

    return [
        routes_health.blueprint,
        routes_customers.blueprint,
        routes_runs.blueprint,
        routes_stages.blueprint,
        routes_tasks.blueprint,
        routes_web.blueprint,
    ]
