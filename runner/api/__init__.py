"""The HTTP and WebSocket API (only ``runner.app`` imports this package)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.api.errors import error_response, install_error_handlers
from runner.api.health import HealthProbe
from runner.api.idempotency import Idempotency
from runner.api.openapi import OpenAPI
from runner.api.services import Services
from runner.api.ws import DevteamSocket

if TYPE_CHECKING:
    from quart import Blueprint

__all__ = [
    "DevteamSocket",
    "HealthProbe",
    "Idempotency",
    "OpenAPI",
    "Services",
    "blueprints",
    "error_response",
    "install_error_handlers",
]


def blueprints() -> list[Blueprint]:
    """Return every route blueprint (``/ws/devteam`` is served by ``DevteamSocket``)."""
    from runner.api import routes_customers, routes_health, routes_runs, routes_stages

    return [
        routes_health.blueprint,
        routes_customers.blueprint,
        routes_runs.blueprint,
        routes_stages.blueprint,
    ]
