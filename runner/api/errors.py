"""Turn every failure into the contract's JSON error body; never HTML, never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from quart import Response, g, has_request_context
from werkzeug.exceptions import HTTPException

from runner.api.json import dumps
from runner.api.services import services
from runner.errors import RunnerError

if TYPE_CHECKING:
    from quart_trio import QuartTrio

__all__ = ["encode_body", "error_body", "error_response", "install_error_handlers", "json_response"]

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def encode_body(body: Any) -> bytes:
    """Every HTTP body leaves through here: redacted once, encoded once (compact JSON)."""
    return dumps(services().redactor.value(body))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Return ``body`` as a JSON response (see :func:`encode_body`)."""
    return Response(encode_body(body), status=status, headers=headers, mimetype="application/json")


def error_body(exc: RunnerError, request_id: str | None) -> dict[str, Any]:
    """Return the contract's error body for ``exc``; log a server error (5xx).

    The body is redacted where it leaves (:func:`encode_body`), the log line by the logging
    processor.
    """
    if exc.http_status >= 500:
        customer_id = getattr(g, "customer_id", None) if has_request_context() else None
        log.error(
            "request_failed",
            code=exc.code,
            status=exc.http_status,
            message=exc.message,
            customer_id=customer_id,
            task_id=exc.task_id,
            request_id=request_id,
        )
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "details": exc.details}
    if request_id:
        error["requestId"] = request_id
    body: dict[str, Any] = {"success": False, "error": error}
    if exc.task_id is not None:
        body["taskId"] = exc.task_id
    body.update(exc.extra)
    return body


def error_response(exc: RunnerError) -> Response:
    """Return the JSON response for ``exc`` with its status and headers."""
    request_id = getattr(g, "request_id", None)
    return json_response(error_body(exc, request_id), exc.http_status, dict(exc.headers))


async def _runner_error(exc: RunnerError) -> Response:
    return error_response(exc)


async def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    if status == 413:
        message = f"request body is over {services().settings.max_body_bytes} bytes"
    error = RunnerError(str(message), code=code)
    error.http_status = status  # type: ignore[misc]  # a 404 is not logged as a server error
    response = json_response(error_body(error, getattr(g, "request_id", None)), status)
    if status == 405 and exc.get_headers():
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


async def _unhandled(exc: Exception) -> Response:
    log.error("unhandled_error", exc_info=exc)  # the traceback; error_body logs the code and ids
    error = RunnerError("internal error; quote the request id when reporting it", code="internal")
    return json_response(error_body(error, getattr(g, "request_id", None)), 500)


def install_error_handlers(app: QuartTrio) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(RunnerError, _runner_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unhandled)
