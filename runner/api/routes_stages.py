"""The spec's stage endpoints: ``/prep``, ``/implement``, ``/verify``, ``/tasks/next``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response
from quart_schema import document_querystring, document_request, document_response

from runner.actors import RunImplement, RunPrep, RunSelect, RunVerify
from runner.api.customers import (
    get_customer,
    resolve_for_repo,
    resolve_for_task,
    unless_failed,
)
from runner.api.errors import json_response
from runner.api.http import authorize, idempotent, parse_body, parse_query
from runner.api.models import (
    ErrorBody,
    ImplementBody,
    ImplementView,
    PrepBody,
    PrepView,
    TaskNextQuery,
    TaskNextView,
    VerifyBody,
    VerifyView,
)
from runner.api.services import services
from runner.errors import InvalidInputError
from runner.pipeline import ImplementRequest, PrepRequest, VerifyRequest
from runner.wire import to_wire

if TYPE_CHECKING:
    from collections.abc import Callable

    from runner.actors import ManualStage, Reply

__all__ = ["blueprint"]

blueprint = Blueprint("stages", __name__)


async def _stage(customer_id: str, command: Callable[[Reply], ManualStage]) -> dict[str, Any]:
    """Run a manual stage in the customer's actor; return its result as the response body."""
    wire: dict[str, Any] = to_wire(await services().registry.ask(customer_id, command))
    return wire


@blueprint.post("/prep")
@document_request(PrepBody)
@document_response(PrepView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 500)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def prep() -> Response:
    """PREP: clone or fetch the repository and create (or reuse) the task branch."""
    body = await parse_body(PrepBody)
    customer_id, registered = await resolve_for_repo(body.customer_id, body.repo_url)

    async def execute(key: str | None) -> tuple[int, Any]:
        request = PrepRequest(task_id=body.task_id, force=body.force)
        wire = await _stage(customer_id, lambda reply: RunPrep(request, reply))
        return 200, {**wire, "idempotencyKey": key, "customerId": customer_id}

    async def call() -> Response:
        authorize(customer_id)
        return await idempotent(customer_id, "POST /prep", body, body.idempotency_key, execute)

    return await unless_failed(customer_id, registered, call)


@blueprint.post("/implement")
@document_request(ImplementBody)
@document_response(ImplementView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 500)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def implement() -> Response:
    """IMPLEMENT: run the coding tool on the task branch and commit its change."""
    body = await parse_body(ImplementBody)
    customer_id = await resolve_for_task(body.customer_id, body.task_id, body.branch)
    authorize(customer_id)
    criteria = body.criteria
    request = ImplementRequest(
        task_id=body.task_id,
        branch=body.branch,
        tool=body.tool,
        description=criteria.description if criteria else None,
        files=tuple(criteria.files) if criteria and criteria.files is not None else None,
        requirements=(
            tuple(criteria.requirements) if criteria and criteria.requirements is not None else None
        ),
        force=body.force,
    )

    async def execute(key: str | None) -> tuple[int, Any]:
        return 200, await _stage(customer_id, lambda reply: RunImplement(request, reply))

    return await idempotent(customer_id, "POST /implement", body, body.idempotency_key, execute)


@blueprint.post("/verify")
@document_request(VerifyBody)
@document_response(VerifyView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 500)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def verify() -> Response:
    """VERIFY: evaluate the criteria on the task branch; 422 with every result if unmet."""
    body = await parse_body(VerifyBody)
    customer_id = await resolve_for_task(body.customer_id, body.task_id, body.branch)
    authorize(customer_id)
    request = VerifyRequest(
        task_id=body.task_id, branch=body.branch, criteria=body.criteria, force=body.force
    )

    async def execute(key: str | None) -> tuple[int, Any]:
        return 200, await _stage(customer_id, lambda reply: RunVerify(request, reply))

    return await idempotent(customer_id, "POST /verify", body, body.idempotency_key, execute)


@blueprint.get("/tasks/next")
@document_querystring(TaskNextQuery)
@document_response(TaskNextView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 503)
async def tasks_next() -> Response:
    """SELECT: the first task not done whose dependencies are done (``task: null`` if none).

    ``excludeCompleted=false`` also counts completed tasks as candidates: the answer is the
    first atomic task in document order whatever its status.
    """
    query = parse_query(TaskNextQuery)

    def select(reply: Reply) -> RunSelect:
        return RunSelect(query.exclude_completed, reply)

    if query.customer_id is not None:
        customer_id = query.customer_id
        authorize(customer_id)
        record = await get_customer(customer_id)
        if query.repo_url is not None and query.repo_url != record.repo_url:
            raise InvalidInputError(
                "repoUrl differs from the customer's registered repoUrl", field="repoUrl"
            )
    elif query.repo_url is not None:
        customer_id, registered = await resolve_for_repo(None, query.repo_url)

        async def call() -> Response:
            authorize(customer_id)
            return json_response(await _stage(customer_id, select))

        return await unless_failed(customer_id, registered, call)
    else:
        raise InvalidInputError("customerId or repoUrl is required", field="customerId")
    return json_response(await _stage(customer_id, select))
