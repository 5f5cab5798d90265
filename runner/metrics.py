"""Prometheus metrics, one registry per service instance (no global collectors)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Metrics"]

_ACTIVE = {"SELECTING", "PREPARING", "IMPLEMENTING", "VERIFYING", "COMPLETING"}


@attrs.define(eq=False)
class Metrics:
    """The service's counters, histograms and gauges."""

    registry: CollectorRegistry = attrs.field(factory=lambda: CollectorRegistry(auto_describe=True))
    _statuses: dict[str, str] = attrs.field(factory=dict)
    requests: Counter = attrs.field(init=False)
    latency: Histogram = attrs.field(init=False)
    stages: Histogram = attrs.field(init=False)
    processes: Histogram = attrs.field(init=False)
    slot_wait: Histogram = attrs.field(init=False)
    dropped: Counter = attrs.field(init=False)
    runs: Counter = attrs.field(init=False)
    ws_subscribers: Gauge = attrs.field(init=False)
    active_runs: Gauge = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "devteam_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "devteam_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.stages = Histogram(
            "devteam_stage_duration_seconds",
            "Pipeline stage durations by outcome",
            ["stage", "outcome"],
            registry=r,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900),
        )
        self.processes = Histogram(
            "devteam_process_duration_seconds",
            "Child process time: the coding tool (kind=tool, name=its name) and VERIFY's gates"
            " (kind=gates, name=verify: setup plus the longest concurrent gate)",
            ["kind", "name"],
            registry=r,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900),
        )
        self.slot_wait = Histogram(
            "devteam_job_slot_wait_seconds",
            "Time a tool or verify job queued for one of MAX_PARALLEL_JOBS slots",
            registry=r,
            buckets=(0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600),
        )
        self.dropped = Counter(
            "devteam_ws_dropped_events_total",
            "Log events dropped for WebSocket subscribers that read too slowly",
            registry=r,
        )
        self.runs = Counter(
            "devteam_runs_total", "Autopilot runs by final status", ["status"], registry=r
        )
        self.ws_subscribers = Gauge(
            "devteam_ws_subscribers", "Connected WebSocket subscribers", registry=r
        )
        self.active_runs = Gauge(
            "devteam_active_runs", "Customers with a stage running", registry=r
        )
        self.active_runs.set_function(self._count_active)

    def _count_active(self) -> float:
        return float(sum(1 for s in self._statuses.values() if s in _ACTIVE))

    def status_changed(self, customer_id: str, status: str) -> None:
        """Track a customer's status for the active-runs gauge."""
        self._statuses[customer_id] = status

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_stage(self, stage: str, outcome: str, seconds: float) -> None:
        """Record one stage's duration and outcome."""
        self.stages.labels(stage, outcome).observe(seconds)

    def observe_process(self, kind: str, name: str, seconds: float) -> None:
        """Record a tool's (``kind="tool"``) or VERIFY's gates' (``"gates"``) process time."""
        self.processes.labels(kind, name).observe(seconds)

    def observe_slot_wait(self, seconds: float) -> None:
        """Record how long a job waited for a slot."""
        self.slot_wait.observe(seconds)

    def events_dropped(self, count: int = 1) -> None:
        """Count log events dropped for a slow subscriber."""
        self.dropped.inc(count)

    def run_finished(self, status: str) -> None:
        """Count a run that reached a final status (DONE, FAILED, STOPPED)."""
        self.runs.labels(status).inc()

    def track_subscribers(self, count: Callable[[], int]) -> None:
        """Read the WebSocket subscriber count from ``count`` at scrape time."""
        self.ws_subscribers.set_function(lambda: float(count()))

    def render(self) -> bytes:
        """Return the text exposition format."""
        return generate_latest(self.registry)
