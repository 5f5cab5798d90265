"""A server error (5xx) is logged at ``error`` with its code, customer, task and request id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from runner.errors import GitError

if TYPE_CHECKING:
    from tests.helpers.fake_stages import FakeStages
    from tests.helpers.service import Service


async def test_a_500_is_logged_at_error_with_its_ids(service: Service, stages: FakeStages) -> None:
    stages.fail[("prep", "1.1.1")] = GitError("fetch failed: boom", task_id="1.1.1")
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
        with structlog.testing.capture_logs() as logs:
            response = await client.post(
                "/prep",
                json={"repoUrl": "/srv/acme", "taskId": "1.1.1", "customerId": "acme"},
                headers={"X-Request-ID": "req-500"},
            )
    assert response.status_code == 500
    (entry,) = [e for e in logs if e["event"] == "request_failed"]
    assert entry["log_level"] == "error"
    assert (entry["code"], entry["status"]) == ("git_failed", 500)
    assert (entry["customer_id"], entry["task_id"], entry["request_id"]) == (
        "acme", "1.1.1", "req-500"
    )  # fmt: skip
    assert not [e for e in logs if e["event"] == "request_failed" and e["status"] < 500]


async def test_an_unknown_route_or_method_is_not_logged_as_a_server_error(
    service: Service,
) -> None:
    async with service.client() as client:
        with structlog.testing.capture_logs() as logs:
            missing = await client.get("/no/such/route")
            method = await client.delete("/health")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert method.status_code == 405
    assert not [e for e in logs if e["event"] == "request_failed"]
