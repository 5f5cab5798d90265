"""What every actor shares: settings, store, bus, stages, job slots, clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from runner.actors.bus import EventBus
from runner.config import Settings
from runner.metrics import Metrics
from runner.pipeline import Stages
from runner.redact import Redactor
from runner.store import Store
from runner.tools import JobSlots

__all__ = ["ActorDeps"]


@attrs.frozen(eq=False)
class ActorDeps:
    """Shared, long-lived services handed to each :class:`CustomerActor`."""

    settings: Settings
    store: Store
    bus: EventBus
    stages: Stages
    slots: JobSlots
    redactor: Redactor
    metrics: Metrics
    now: Callable[[], datetime]
