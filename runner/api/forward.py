"""Forwarding: a request for a customer another instance runs is answered by that instance.

The registry raises :class:`~runner.errors.OwnedElsewhere` when a command reaches an
instance that does not hold the customer's lease while another live instance does. Nothing
was done for the request yet (an idempotency key it claimed was given back), so the whole
request, as received, is sent to the owner's URL (``DEVTEAM_RUNNER_BASE_URL`` of the owner,
from the instances table) and the owner's answer is returned as is. The owner audits it;
this instance does not. A forwarded request is marked: it is never forwarded a second time
(the owner changed meanwhile: 503 with ``Retry-After``, the client retries).
"""

from __future__ import annotations

import httpx
import structlog
from quart import Response, g, request

from runner.api.errors import error_response
from runner.api.services import services
from runner.errors import OwnedElsewhere, OwnerUnavailableError

__all__ = ["FORWARDED_BY", "forward"]

log = structlog.get_logger(__name__)

FORWARDED_BY = "X-Devteam-Forwarded-By"
"""Set on a forwarded request: the instance that forwarded it."""

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
_CONNECT_TIMEOUT_S = 3.0


async def forward(exc: OwnedElsewhere) -> Response:
    """Answer the current request with the owner's answer to it (the error handler)."""
    svc = services()
    if request.headers.get(FORWARDED_BY) or not exc.url:
        why = "it was forwarded here already" if exc.url else "it has no DEVTEAM_RUNNER_BASE_URL"
        return _unavailable(
            f"customer {exc.customer_id} is run by another instance and {why}; retry in a moment"
        )
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    headers[FORWARDED_BY] = svc.registry.instance_id or "-"
    headers["X-Request-ID"] = getattr(g, "request_id", "")
    body = await request.get_data(as_text=False)
    url = exc.url.rstrip("/") + request.full_path.rstrip("?")
    try:
        answer = await svc.http.request(
            request.method,
            url,
            headers=headers,
            content=body,
            timeout=httpx.Timeout(None, connect=_CONNECT_TIMEOUT_S),
        )
    except httpx.HTTPError as error:
        log.warning("forward_failed", owner=exc.owner, error=type(error).__name__)
        return _unavailable(
            f"customer {exc.customer_id} is run by instance {exc.owner}, which cannot be"
            " reached; another instance takes it over within the lease TTL"
        )
    g.forwarded = True  # the owner audited the request
    kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
    kept.pop("content-encoding", None)  # httpx decoded the body
    return Response(answer.content, status=answer.status_code, headers=kept)


def _unavailable(message: str) -> Response:
    return error_response(OwnerUnavailableError(message, services().settings.lease_ttl_s))
