"""``GET /health``, ``GET /healthz``, ``GET /metrics``."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response

import runner
from runner.api.errors import json_response
from runner.api.models import HealthView
from runner.api.services import services

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
@document_response(HealthView, 200)
@document_response(HealthView, 503)
async def health() -> Response:
    """Service health: 200 healthy, 200 degraded (no coding tool), 503 unhealthy."""
    svc = services()
    report = await svc.health.report()
    body = {
        "status": report.status,
        "timestamp": svc.timestamp(),
        "version": runner.__version__,
        "dependencies": report.dependencies,
        "instance": None
        if svc.registry.instance_id is None
        else {"instanceId": svc.registry.instance_id, "url": svc.settings.base_url},
    }
    return json_response(body, report.http_status)


@blueprint.get("/healthz")
async def healthz() -> Response:
    """Liveness without I/O."""
    return json_response({"status": "ok"})


@blueprint.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(services().metrics.render(), mimetype="text/plain; version=0.0.4")
