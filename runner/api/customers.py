"""Customer lookup and registration shared by the routes (CONTRACT §2)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import trio

from runner.api.http import authorize
from runner.api.services import services
from runner.config import CUSTOMER_ID
from runner.errors import ConflictError, InvalidInputError, NotFoundError
from runner.git import validate_repo_url
from runner.paths import relative_path
from runner.store import CustomerRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from quart import Response

__all__ = [
    "checked_customer_id",
    "customer_view",
    "get_customer",
    "register",
    "resolve_for_repo",
    "resolve_for_task",
    "unless_failed",
]

DEFAULT_CUSTOMER = "default"
_ID = re.compile(CUSTOMER_ID)


def checked_customer_id(value: str) -> str:
    """Return a path's customer id once it is well-formed (400) and the token reaches it."""
    if not _ID.match(value):
        raise InvalidInputError(f"must match {CUSTOMER_ID}", field="customerId")
    authorize(value)
    return value


async def get_customer(customer_id: str) -> CustomerRecord:
    """Return a registered customer or raise 404."""
    record = await services().store.customers.get(customer_id)
    if record is None:
        raise NotFoundError(
            f"customer {customer_id!r} is not registered", code="customer_not_found"
        )
    return record


async def register(customer_id: str, repo_url: str, **fields: Any) -> CustomerRecord:
    """Create or update a customer; the repo URL is validated first."""
    svc = services()
    validate_repo_url(repo_url, allow_local=svc.settings.allow_local_repos)
    if "tasks_file" in fields:
        fields["tasks_file"] = relative_path(fields["tasks_file"], "tasksFile")
    existing = await svc.store.customers.get(customer_id)
    now = svc.timestamp()
    record = CustomerRecord(
        customer_id=customer_id,
        repo_url=repo_url,
        base_branch=fields.get("base_branch", existing.base_branch if existing else "main"),
        tasks_file=fields.get(
            "tasks_file", existing.tasks_file if existing else "docs/DevTeam/tasks_list.md"
        ),
        tool=fields.get("tool", existing.tool if existing else "aider"),
        push=fields.get("push", existing.push if existing else False),
        settings=fields.get("settings", existing.settings if existing else {}),
        created_at=existing.created_at if existing else now,
        updated_at=now,
    )
    return await svc.store.customers.upsert(record)


async def resolve_for_repo(customer_id: str | None, repo_url: str) -> tuple[str, bool]:
    """Find (or register) the customer for a ``repoUrl`` (``/prep``, ``/tasks/next``).

    Returns:
        The customer id, and whether it was registered by this call (then the caller runs
        its request through :func:`unless_failed`, which undoes the registration).
    """
    svc = services()
    validate_repo_url(repo_url, allow_local=svc.settings.allow_local_repos)
    if customer_id is not None:
        record = await svc.store.customers.get(customer_id)
        if record is None:
            await register(customer_id, repo_url)
            return customer_id, True
        if record.repo_url != repo_url:
            raise ConflictError(
                f"customer {customer_id!r} is registered with another repoUrl; "
                "PUT /customers/{customerId} to change it",
                code="customer_repo_mismatch",
            )
        return customer_id, False
    matches = await svc.store.customers.find_by_repo(repo_url)
    if len(matches) == 1:
        return matches[0].customer_id, False
    if len(matches) > 1:
        names = ", ".join(sorted(m.customer_id for m in matches))
        raise InvalidInputError(
            f"several customers use this repoUrl ({names}); say which with customerId",
            field="customerId",
        )
    default = await svc.store.customers.get(DEFAULT_CUSTOMER)
    if default is not None and default.repo_url != repo_url:
        raise InvalidInputError(
            "no customer is registered with this repoUrl and 'default' uses another one; "
            "pass customerId",
            field="customerId",
        )
    if default is None:
        await register(DEFAULT_CUSTOMER, repo_url)
        return DEFAULT_CUSTOMER, True
    return DEFAULT_CUSTOMER, False


async def unless_failed(
    customer_id: str, registered: bool, call: Callable[[], Awaitable[Response]]
) -> Response:
    """Return ``call()``; if it fails and ``registered``, undo the customer's registration.

    A request that fails leaves no customer behind (a ``/prep`` of an unreachable repoUrl
    would otherwise hold the ``default`` customer for every later repoUrl-only call).
    """
    if not registered:
        return await call()
    try:
        response = await call()
    except BaseException:
        with trio.CancelScope(shield=True):
            await _unregister(customer_id)
        raise
    if response.status_code >= 400:
        await _unregister(customer_id)
    return response


async def _unregister(customer_id: str) -> None:
    svc = services()
    if svc.registry.retire(customer_id):  # a stage started meanwhile keeps it registered
        await svc.store.customers.delete(customer_id)


async def resolve_for_task(customer_id: str | None, task_id: str, branch: str | None) -> str:
    """Find the customer whose ``/prep`` made ``branch`` for ``task_id`` (``/implement``...)."""
    if customer_id is not None:
        await get_customer(customer_id)
        return customer_id
    found = await services().store.steps.find("prep", task_id, branch)
    owners = sorted({step.customer_id for step in found})
    if not owners:
        raise NotFoundError(
            f"no customer prepared task {task_id}"
            + (f" on branch {branch!r}" if branch else "")
            + "; call /prep first or pass customerId",
            code="branch_not_found",
            task_id=task_id,
        )
    if len(owners) > 1:
        raise InvalidInputError(
            f"several customers prepared task {task_id} ({', '.join(owners)}); pass customerId",
            field="customerId",
        )
    return owners[0]


async def customer_view(record: CustomerRecord) -> dict[str, Any]:
    """Return the customer with its execution state (and the instance running it)."""
    registry = services().registry
    state = await registry.state(record.customer_id)
    owner = await registry.owner(record.customer_id)
    return {
        "customerId": record.customer_id,
        "repoUrl": record.repo_url,
        "baseBranch": record.base_branch,
        "tasksFile": record.tasks_file,
        "tool": record.tool,
        "push": record.push,
        "defaultCriteria": record.settings.get("defaultCriteria"),
        "scopePolicy": record.settings.get("scopePolicy", "warn"),
        "maxAttempts": record.settings.get("maxAttempts"),
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "state": state,
        "owner": None if owner is None else {"instanceId": owner.owner, "url": owner.owner_url},
    }
