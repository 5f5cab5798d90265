"""The Quart-Trio app and the service's background machinery.

``create_app(settings, services)`` builds the HTTP/WebSocket app; ``open_services`` opens the
store and starts the registry, the health probe and the housekeeping loops in a nursery.
"""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import structlog
import trio
from quart import Response, g, request
from quart_schema import QuartSchema
from quart_trio import QuartTrio

import runner
from runner.actors import ActorDeps, Cluster, EventBus, Registry, end_dead_lives
from runner.api import (
    WEB_DIR,
    DevteamSocket,
    HealthProbe,
    Idempotency,
    OpenAPI,
    Services,
    blueprints,
    error_response,
    forward,
    install_error_handlers,
    is_page_path,
)
from runner.clock import iso_utc, utc_now
from runner.errors import OwnedElsewhere, RunnerError, UnauthorizedError
from runner.metrics import Metrics
from runner.process import Containment, JobRecord, contained, start_time
from runner.redact import Redactor
from runner.store import AuditEntry, PostgresStore, ProcessRow, Store, open_database
from runner.tools import JobSlots

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime

    from runner.config import Settings
    from runner.pipeline import Stages

__all__ = [
    "StoreJournal",
    "create_app",
    "devteam_socket",
    "housekeep_once",
    "housekeeping",
    "open_services",
]

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_OPEN_PATHS = {"/health", "/healthz"}
_HOUSEKEEPING_INTERVAL_S = 600.0
_SOCKET = "devteam_socket"
_API_DESCRIPTION = (
    "Live events: `WS /ws/devteam` on this same port (not an HTTP route, so not listed "
    "below). Query `customerId` (repeatable), `since` (replay stored events after this "
    "`seq`), `token` (or the `Authorization: Bearer` header). Frames: `execution-update` "
    "and `execution-log` with `seq` and `runId`; a refused token is the HTTP error body "
    "(401), a bad query an `error` frame then close 1008. The upgrade must be the first "
    "request on its connection."
)


def create_app(settings: Settings, services: Services) -> QuartTrio:
    """Build the app around already-running ``services``."""
    app = QuartTrio(__name__, static_folder=str(WEB_DIR), static_url_path="/static")  # the page
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["DEVTEAM_SERVICES"] = services
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True
    QuartSchema(
        app,
        info={
            "title": "devteam-runner",
            "version": runner.__version__,
            "description": _API_DESCRIPTION,
        },
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        security=[{"bearer": []}] if settings.auth_enabled else None,
        openapi_provider_class=OpenAPI,
    )
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    install_error_handlers(app)
    app.register_error_handler(OwnedElsewhere, forward)

    @app.before_request
    async def before() -> Response | None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=g.request_id)
        if request.content_length or "Transfer-Encoding" in request.headers:
            # Read the body before any response (405, 401, OPTIONS...): a keep-alive
            # connection whose body arrives after the response was left hanging otherwise.
            await request.get_data()
        if settings.auth_enabled and not _open(request.path):
            try:
                g.grant = _grant(settings, request.headers.get("Authorization"), None)
            except UnauthorizedError as exc:
                return error_response(exc)
        return None

    @app.after_request
    async def after(response: Response) -> Response:
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
        services.metrics.observe_request(rule, request.method, response.status_code, elapsed)
        if request.method in {"POST", "PUT", "DELETE", "PATCH"} and not g.get("forwarded"):
            await _audit(services, rule, response)  # a forwarded request: by its owner
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            ms=round(elapsed * 1000, 2),
        )
        return response

    def authenticate(header: str | None, token: str | None) -> object:
        return _grant(settings, header, token) if settings.auth_enabled else None

    # WS /ws/devteam is served from the service's listener, not through ASGI (runner.serve).
    app.extensions[_SOCKET] = DevteamSocket(
        app,
        services,
        authenticate,
        ping_interval_s=settings.ws_ping_interval_s,
        send_buffer_bytes=settings.ws_send_buffer_bytes,
    )
    return app


def devteam_socket(app: QuartTrio) -> DevteamSocket:
    """The ``/ws/devteam`` endpoint of an app built by :func:`create_app`."""
    socket: DevteamSocket = app.extensions[_SOCKET]
    return socket


def _open(path: str) -> bool:
    """Whether ``path`` is served without a token: health, and the page (it holds no data)."""
    return path in _OPEN_PATHS or is_page_path(path)


def _grant(settings: Settings, header: str | None, query_token: str | None) -> object:
    token = query_token
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise UnauthorizedError("use Authorization: Bearer <token>")
        token = value.strip()
    if not token:
        raise UnauthorizedError("missing bearer token")
    grant = settings.api_tokens.get(token)
    if grant is None:
        raise UnauthorizedError("unknown token")
    return grant


async def _audit(services: Services, rule: str, response: Response) -> None:
    grant = getattr(g, "grant", None)
    status = response.status_code
    entry = AuditEntry(
        timestamp=services.timestamp(),
        token_id=grant.token_id if grant is not None else "anonymous",
        action=f"{request.method} {rule}",
        customer_id=getattr(g, "customer_id", None),
        outcome="ok" if status < 400 else ("rejected" if status < 500 else "error"),
        status_code=status,
        request_id=getattr(g, "request_id", None),
        detail={
            "path": services.redactor(request.path),
            "replayed": response.headers.get("Idempotent-Replayed") == "true",
            **services.redactor.value(getattr(g, "audit_detail", {})),
        },
    )
    try:
        with trio.CancelScope(shield=True):
            await services.store.audit.record(entry)
    except RunnerError as exc:  # the answer is decided: a failed audit row must not turn it
        log.error(
            "audit_failed",
            code=exc.code,
            message=exc.message,
            status=status,
            request_id=entry.request_id,
            customer_id=entry.customer_id,
        )


@asynccontextmanager
async def open_services(
    settings: Settings,
    stages: Stages,
    *,
    now: Callable[[], datetime] = utc_now,
) -> AsyncIterator[Services]:
    """Open the store and run the registry, health probe and housekeeping until exit."""
    redactor = Redactor(settings.secrets)
    settings.workspace_dir.mkdir(parents=True, exist_ok=True)
    async with open_database(settings.database_path, settings.postgres_url) as store:
        instance = uuid.uuid4().hex
        cluster = None
        if isinstance(store, PostgresStore):  # other instances may share it
            cluster = Cluster(instance, settings.base_url, settings.lease_ttl_s, store.listen)
            if settings.base_url is None:
                log.warning(
                    "no_base_url",
                    message="DEVTEAM_RUNNER_BASE_URL is not set: other instances sharing the"
                    " database cannot forward requests for this instance's customers (503)",
                )
            await store.leases.register_instance(instance, settings.base_url, iso_utc(now()))
        # Before anything can resume a run: end what a crashed earlier life left running
        # (another live instance's processes are its own).
        await end_dead_lives(store, None if cluster is None else cluster.ttl_s, instance)
        pid = os.getpid()
        await store.processes.begin_life(
            instance, pid, iso_utc(now()), host=socket.gethostname(), start_time=start_time(pid)
        )
        containment = Containment(instance, StoreJournal(store, now))
        with contained(containment):
            async with _run_services(settings, stages, store, redactor, now, cluster) as services:
                yield services


@asynccontextmanager
async def _run_services(
    settings: Settings,
    stages: Stages,
    store: Store,
    redactor: Redactor,
    now: Callable[[], datetime],
    cluster: Cluster | None,
) -> AsyncIterator[Services]:
    async with trio.open_nursery() as nursery:
        metrics = Metrics()
        bus = EventBus(
            capacity=settings.subscriber_queue_size,
            max_bytes=settings.subscriber_queue_bytes,
            on_dropped=metrics.events_dropped,
        )
        metrics.track_subscribers(lambda: bus.subscriber_count)
        deps = ActorDeps(
            settings=settings,
            store=store,
            bus=bus,
            stages=stages,
            slots=JobSlots(settings.max_parallel_jobs, on_wait=metrics.observe_slot_wait),
            redactor=redactor,
            metrics=metrics,
            now=now,
        )
        registry: Registry = await nursery.start(Registry(deps, cluster).run)
        health = HealthProbe(settings=settings, store=store)
        await nursery.start(health.run)
        services = Services(
            settings=settings,
            store=store,
            registry=registry,
            bus=bus,
            metrics=metrics,
            redactor=redactor,
            health=health,
            idempotency=Idempotency(
                store=store, settings=settings, now=now, instance=registry.instance_id
            ),
            now=now,
            http=httpx.AsyncClient(),
        )
        nursery.start_soon(housekeeping, services, stages)
        try:
            yield services
        finally:
            bus.close()
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                await services.http.aclose()


class StoreJournal:
    """The store as the :class:`~runner.tools.ProcessJournal` of the service's child processes.

    An ended process is forgotten in the transaction that journals the next one: one write
    per child process instead of two.
    """

    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now
        self._ended: list[str] = []

    async def started(self, job: JobRecord) -> None:
        """Journal a child process that was just spawned (and forget the ended ones)."""
        ended, self._ended = self._ended, []
        row = ProcessRow(job.marker, job.pid, job.start_time)
        await self.store.processes.started(row, iso_utc(self.now()), ended)

    def ended(self, marker: str) -> None:
        """Forget a child process whose tree has been ended (with the next write)."""
        self._ended.append(marker)


async def housekeeping(services: Services, stages: Stages) -> None:
    """Run :func:`housekeep_once` every few minutes."""
    while True:
        await housekeep_once(services, stages)
        await trio.sleep(_HOUSEKEEPING_INTERVAL_S)


async def housekeep_once(services: Services, stages: Stages) -> dict[str, int]:
    """Purge expired idempotency records, old events and idle workspaces; return the counts."""
    store, settings = services.store, services.settings
    counts = {
        "idempotency_purged": await store.idempotency.purge_expired(services.timestamp()),
        "events_pruned": await store.events.prune(settings.events_keep_per_customer),
        "workspaces_removed": len(
            await stages.cleanup(settings, services.registry.busy_workspaces())
        ),
    }
    if any(counts.values()):
        log.info("housekeeping", **counts)
    return counts
