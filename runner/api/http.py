"""Request plumbing shared by the routes: body parsing, auth checks, idempotent execution."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Response, g, request

from runner.api.errors import encode_body, error_body
from runner.api.idempotency import StoredResponse
from runner.api.services import services
from runner.errors import ForbiddenError, InvalidInputError, RunnerError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = [
    "authorize",
    "customer_scope",
    "idempotent",
    "parse_body",
    "parse_query",
    "validation_error",
]

M = TypeVar("M", bound=BaseModel)
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def validation_error(exc: ValidationError, where: str = "body") -> InvalidInputError:
    """Turn pydantic's errors into a 400 naming each field at fault."""
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in err["loc"]) or where
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        details.append({"field": field, "message": message})
    first = details[0] if details else {"field": where, "message": "invalid"}
    return InvalidInputError(f"{first['field']}: {first['message']}", details=details)


async def parse_body(model: type[M], *, optional: bool = False) -> M:
    """Parse and validate the JSON body as ``model`` (an empty body is ``{}`` if optional)."""
    raw = await request.get_data(as_text=False)
    if not raw.strip():
        if not optional:
            raise InvalidInputError("a JSON body is required", field="body")
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidInputError("the body is not valid JSON", field="body") from None
        raise validation_error(exc) from None


def parse_query(model: type[M]) -> M:
    """Validate the query string as ``model``."""
    try:
        return model.model_validate(dict(request.args.items()))
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def authorize(customer_id: str) -> None:
    """Raise 403 unless the request's token reaches ``customer_id``."""
    g.customer_id = customer_id
    grant = getattr(g, "grant", None)
    if grant is not None and not grant.allows(customer_id):
        raise ForbiddenError(f"this token does not reach customer {customer_id!r}")


def customer_scope(customer_id: str, route: str) -> str:
    """Return the idempotency scope: per customer, per API token, per route."""
    grant = getattr(g, "grant", None)
    token_id = grant.token_id if grant is not None else "-"
    return f"{customer_id}|{token_id}|{route}"


def _key(body_key: str | None) -> str | None:
    key = body_key or request.headers.get("Idempotency-Key")
    if key is not None and not _KEY.match(key):
        raise InvalidInputError("must be 1-200 printable ASCII characters", field="idempotencyKey")
    return key


async def idempotent(
    customer_id: str,
    route: str,
    body: BaseModel,
    body_key: str | None,
    execute: Callable[[str | None], Awaitable[tuple[int, Any]]],
) -> Response:
    """Run ``execute(key)`` at most once for this idempotency key and return its response."""
    key = _key(body_key)
    payload = body.model_dump(mode="json", by_alias=True, exclude={"idempotency_key"})

    async def run() -> StoredResponse:
        try:
            status, result = await execute(key)
        except RunnerError as exc:
            request_id = getattr(g, "request_id", None)
            headers = {"Content-Type": "application/json", **exc.headers}
            return StoredResponse(
                exc.http_status, encode_body(error_body(exc, request_id)), headers
            )
        return StoredResponse(status, encode_body(result))

    stored = await services().idempotency.run(customer_scope(customer_id, route), key, payload, run)
    headers = {k: v for k, v in stored.headers.items() if k.lower() != "content-type"}
    return Response(stored.body, status=stored.status, headers=headers, mimetype="application/json")
