"""``GET /customers/{id}/tasks``: the customer's task tree, read through its actor."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response

from runner.actors import ReadTaskList
from runner.api.customers import checked_customer_id, get_customer
from runner.api.errors import json_response
from runner.api.models import ErrorBody
from runner.api.services import services
from runner.api.task_tree import TaskTreeView, task_tree
from runner.errors import ConflictError

__all__ = ["blueprint"]

blueprint = Blueprint("tasks", __name__)


@blueprint.get("/customers/<customer_id>/tasks")
@document_response(TaskTreeView, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 409)
@document_response(ErrorBody, 422)
@document_response(ErrorBody, 500)
@document_response(ErrorBody, 507)
@document_response(ErrorBody, 503)
async def get_tasks(customer_id: str) -> Response:
    """The task list as a tree: every task with where it stands, the groups, the warnings.

    Read as SELECT reads it (the base branch, fetched first). While a run holds the
    workspace, the list the run read last is shown; 409 ``task_list_not_read`` before it
    read one.
    """
    customer_id = checked_customer_id(customer_id)
    await get_customer(customer_id)
    svc = services()
    task_list = await svc.registry.ask(customer_id, ReadTaskList)
    if task_list is None:
        raise ConflictError(
            "the running autopilot has not read the task list yet; retry in a moment",
            code="task_list_not_read",
        )
    skipped = await svc.store.skips.of(customer_id)
    return json_response(task_tree(customer_id, task_list, skipped))
