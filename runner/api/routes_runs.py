"""A customer's runs: ``GET /customers/{id}/runs`` and ``GET /customers/{id}/runs/{runId}``.

The audit trail of the autopilot: each run's outcome (with the failed stage's evidence) and,
per task, every stage it went through with its duration, attempt and result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request
from quart_schema import document_response

from runner.api.customers import checked_customer_id, get_customer
from runner.api.errors import json_response
from runner.api.models import ErrorBody, RunList, RunView
from runner.api.services import services
from runner.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from runner.store import RunRecord, StageRecord

__all__ = ["blueprint"]

blueprint = Blueprint("runs", __name__)

_MAX_LIMIT = 100


@blueprint.get("/customers/<customer_id>/runs")
@document_response(RunList, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
async def list_runs(customer_id: str) -> Response:
    """The customer's runs, newest first (``limit``, default 20, at most 100)."""
    customer_id = checked_customer_id(customer_id)
    await get_customer(customer_id)
    try:
        limit = int(request.args.get("limit", "20"))
    except ValueError:
        raise InvalidInputError("must be an integer", field="limit") from None
    if not 1 <= limit <= _MAX_LIMIT:
        raise InvalidInputError(f"must be between 1 and {_MAX_LIMIT}", field="limit")
    runs = services().store.runs
    records = await runs.list(customer_id, limit)
    stages = await runs.stages([r.run_id for r in records])
    return json_response({"runs": [run_view(r, stages[r.run_id]) for r in records]})


@blueprint.get("/customers/<customer_id>/runs/<run_id>")
@document_response(RunView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
async def get_run(customer_id: str, run_id: str) -> Response:
    """One run with each task's stages, durations, attempts and results."""
    customer_id = checked_customer_id(customer_id)
    await get_customer(customer_id)
    runs = services().store.runs
    record = await runs.get(run_id)
    if record is None or record.customer_id != customer_id:
        raise NotFoundError(f"customer {customer_id!r} has no run {run_id!r}", code="run_not_found")
    stages = await runs.stages([run_id])
    return json_response(run_view(record, stages[run_id]))


def run_view(record: RunRecord, stages: list[StageRecord]) -> dict[str, Any]:
    """Return a run and its stages grouped by task, in the order the tasks began."""
    tasks: dict[str | None, list[dict[str, Any]]] = {}
    for stage in stages:
        # SELECT runs before a task is chosen: it belongs to the task it chose
        task_id = stage.task_id if stage.task_id is not None else stage.result.get("taskId")
        tasks.setdefault(task_id, []).append(
            {
                "stage": stage.stage,
                "attempt": stage.attempt,
                "outcome": stage.outcome,
                "startedAt": stage.started_at,
                "finishedAt": stage.finished_at,
                "durationS": stage.duration_s,
                "result": stage.result,
            }
        )
    return {
        "runId": record.run_id,
        "status": record.status,
        "params": record.params,
        "currentTask": record.current_task,
        "error": record.error,
        "startedAt": record.started_at,
        "updatedAt": record.updated_at,
        "finishedAt": record.finished_at,
        "durationS": round(sum(s.duration_s for s in stages), 3),
        "tasks": [{"taskId": task_id, "stages": views} for task_id, views in tasks.items()],
    }
