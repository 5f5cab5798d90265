"""Customers and their autopilot: register, read, run, pause, resume, stop; the audit log."""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, Response, g, request
from quart_schema import document_request, document_response

from runner.actors import Pause, Reply, Resume, SkipTask, StartRun, Stop, UnskipTask
from runner.api.customers import (
    checked_customer_id,
    customer_view,
    get_customer,
    register,
)
from runner.api.errors import json_response
from runner.api.http import idempotent, parse_body
from runner.api.models import (
    TASK_ID,
    AuditPage,
    CustomerBody,
    CustomerList,
    CustomerView,
    ErrorBody,
    ExecutionStateView,
    ResumeBody,
    RunBody,
    SkipBody,
    SkipView,
    TransitionBody,
    UnskipView,
)
from runner.api.services import services
from runner.errors import InvalidInputError

__all__ = ["blueprint"]

blueprint = Blueprint("customers", __name__)


@blueprint.put("/customers/<customer_id>")
@document_request(CustomerBody)
@document_response(CustomerView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 507)
async def put_customer(customer_id: str) -> Response:
    """Register or update a customer (naturally idempotent)."""
    customer_id = checked_customer_id(customer_id)
    body = await parse_body(CustomerBody)
    settings: dict[str, Any] = {"scopePolicy": body.scope_policy}
    if body.default_criteria is not None:
        settings["defaultCriteria"] = body.default_criteria
    if body.max_attempts is not None:
        settings["maxAttempts"] = body.max_attempts
    record = await register(
        customer_id,
        body.repo_url,
        base_branch=body.base_branch,
        tasks_file=body.tasks_file,
        tool=body.tool,
        push=body.push,
        settings=settings,
    )
    return json_response(await customer_view(record))


@blueprint.get("/customers/<customer_id>")
@document_response(CustomerView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
async def get_customer_route(customer_id: str) -> Response:
    """A customer with its execution state (the spec's Execution State Model)."""
    record = await get_customer(checked_customer_id(customer_id))
    return json_response(await customer_view(record))


@blueprint.get("/customers")
@document_response(CustomerList, 200)
async def list_customers() -> Response:
    """Every customer the caller's token reaches."""
    grant = getattr(g, "grant", None)
    records = await services().store.customers.list()
    views = [
        await customer_view(r) for r in records if grant is None or grant.allows(r.customer_id)
    ]
    return json_response({"customers": views})


async def _transition(customer_id: str, action: str, make: Any, body: Any) -> Response:
    customer_id = checked_customer_id(customer_id)
    await get_customer(customer_id)

    async def execute(key: str | None) -> tuple[int, Any]:
        state = await services().registry.ask(customer_id, make)
        return (202 if action == "run" else 200), state

    return await idempotent(customer_id, f"POST {action}", body, body.idempotency_key, execute)


@blueprint.post("/customers/<customer_id>/run")
@document_request(RunBody)
@document_response(ExecutionStateView, 202)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def run(customer_id: str) -> Response:
    """Start the autopilot: SELECT -> PREP -> IMPLEMENT -> VERIFY -> COMPLETE until done."""
    body = await parse_body(RunBody, optional=True)
    return await _transition(
        customer_id,
        "run",
        lambda reply: StartRun(
            tool=body.tool,
            stop_after_task=body.stop_after_task,
            reply=reply,
            max_attempts=body.max_attempts,
            request_id=getattr(g, "request_id", None),
        ),
        body,
    )


@blueprint.post("/customers/<customer_id>/pause")
@document_request(TransitionBody)
@document_response(ExecutionStateView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def pause(customer_id: str) -> Response:
    """Pause after the current stage."""
    body = await parse_body(TransitionBody, optional=True)
    return await _transition(customer_id, "pause", Pause, body)


@blueprint.post("/customers/<customer_id>/resume")
@document_request(ResumeBody)
@document_response(ExecutionStateView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def resume(customer_id: str) -> Response:
    """Continue a paused, failed or stopped run where it stopped (or ``from`` a stage).

    The task in progress is brought up to date first (PREP: fetch, then a person's commits
    on the task branch or a new base are taken).
    """
    body = await parse_body(ResumeBody, optional=True)
    if body.from_stage is not None:
        g.audit_detail = {"from": body.from_stage}
    request_id = getattr(g, "request_id", None)
    return await _transition(
        customer_id,
        "resume",
        lambda reply: Resume(reply, request_id=request_id, from_stage=body.from_stage),
        body,
    )


@blueprint.post("/customers/<customer_id>/tasks/<task_id>/skip")
@document_request(SkipBody)
@document_response(SkipView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def skip(customer_id: str, task_id: str) -> Response:
    """Skip a task: SELECT passes over it; its dependants keep waiting for it.

    Valid while the customer is not running (IDLE, PAUSED, FAILED, STOPPED, DONE); a run that
    stopped at this task moves on to the next one when resumed. A task the list (as last read)
    does not have is 404 ``task_not_found``, a group or phase 400: only tasks are skipped.
    """
    customer_id = checked_customer_id(customer_id)
    if re.fullmatch(TASK_ID, task_id) is None:
        raise InvalidInputError(f"not a task id: {task_id[:40]!r}", field="taskId")
    body = await parse_body(SkipBody)
    g.audit_detail = {"reason": body.reason}  # the audit row keeps why
    await get_customer(customer_id)
    grant = getattr(g, "grant", None)
    by = grant.token_id if grant is not None else None

    def command(reply: Reply) -> SkipTask:
        return SkipTask(task_id, body.reason, by, reply)

    async def execute(key: str | None) -> tuple[int, Any]:
        return 200, await services().registry.ask(customer_id, command)

    return await idempotent(
        customer_id, f"POST skip {task_id}", body, body.idempotency_key, execute
    )


@blueprint.delete("/customers/<customer_id>/tasks/<task_id>/skip")
@document_response(UnskipView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def unskip(customer_id: str, task_id: str) -> Response:
    """Undo a skip: SELECT considers the task again (404 ``skip_not_found`` if it was not).

    Valid while the customer is not running, like the skip.
    """
    customer_id = checked_customer_id(customer_id)
    if re.fullmatch(TASK_ID, task_id) is None:
        raise InvalidInputError(f"not a task id: {task_id[:40]!r}", field="taskId")
    await get_customer(customer_id)
    body = await services().registry.ask(customer_id, lambda reply: UnskipTask(task_id, reply))
    return json_response(body)


@blueprint.post("/customers/<customer_id>/stop")
@document_request(TransitionBody)
@document_response(ExecutionStateView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def stop(customer_id: str) -> Response:
    """Cancel the run now: kills tool and test processes, leaves the workspace clean."""
    body = await parse_body(TransitionBody, optional=True)
    return await _transition(customer_id, "stop", Stop, body)


@blueprint.get("/audit")
@document_response(AuditPage, 200)
async def audit() -> Response:
    """Audit rows of state-changing requests, newest first (``customerId``, ``limit``)."""
    customer_id = request.args.get("customerId")
    if customer_id is not None:
        customer_id = checked_customer_id(customer_id)
    elif getattr(g, "grant", None) is not None and "*" not in g.grant.customers:
        raise InvalidInputError("customerId is required with this token", field="customerId")
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise InvalidInputError("must be an integer", field="limit") from None
    if not 1 <= limit <= 1000:
        raise InvalidInputError("must be between 1 and 1000", field="limit")
    rows = await services().store.audit.list(customer_id, limit, None)
    return json_response({"entries": [_audit_row(r) for r in rows]})


def _audit_row(row: Any) -> dict[str, Any]:
    entry = row.entry if hasattr(row, "entry") else row
    return {
        "id": getattr(row, "id", None),
        "timestamp": entry.timestamp,
        "tokenId": entry.token_id,
        "action": entry.action,
        "customerId": entry.customer_id,
        "outcome": entry.outcome,
        "statusCode": entry.status_code,
        "requestId": entry.request_id,
        "detail": entry.detail,
    }
