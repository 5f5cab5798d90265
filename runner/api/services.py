"""The services a request handler may use, and the one typed accessor for them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs
import httpx
from quart import current_app

from runner.actors import EventBus, Registry
from runner.api.health import HealthProbe
from runner.api.idempotency import Idempotency
from runner.clock import iso_utc
from runner.config import Settings
from runner.metrics import Metrics
from runner.redact import Redactor
from runner.store import Store

__all__ = ["Services", "services"]


@attrs.frozen(eq=False)
class Services:
    """Long-lived objects shared by every request."""

    settings: Settings
    store: Store
    registry: Registry
    bus: EventBus
    metrics: Metrics
    redactor: Redactor
    health: HealthProbe
    idempotency: Idempotency
    now: Callable[[], datetime]
    http: httpx.AsyncClient
    """Forwards requests to the instance that runs their customer."""

    def timestamp(self) -> str:
        """Return the current UTC time as ISO-8601 with a ``Z``."""
        return iso_utc(self.now())


def services() -> Services:
    """Return the services of the running app."""
    value: Services = current_app.config["DEVTEAM_SERVICES"]
    return value
