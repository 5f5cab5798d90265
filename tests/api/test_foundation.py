from __future__ import annotations

import contextlib
import shutil
from typing import TYPE_CHECKING

from runner.config import CUSTOMER_ID

if TYPE_CHECKING:
    import pathlib

    from tests.helpers.service import Service


async def test_healthz_is_ok_without_io(service: Service) -> None:
    async with service.client() as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_reports_degraded_without_the_tool(service: Service) -> None:
    await service.services.health.probed.wait()
    async with service.client() as client:
        response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["dependencies"]["aider"] == "unavailable"
    assert body["dependencies"]["git"] == "available"
    assert body["dependencies"]["filesystem"] == "writable"
    assert body["dependencies"]["store"] == "available"
    assert body["version"]
    assert body["timestamp"].endswith("Z")


async def test_unknown_route_is_json_404(service: Service) -> None:
    async with service.client() as client:
        response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "not_found"


async def test_wrong_method_is_json_405(service: Service) -> None:
    async with service.client() as client:
        response = await client.delete("/prep")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_oversized_body_is_json_413(service: Service) -> None:
    import trio

    host, port = service.url.removeprefix("http://").split(":")
    size = 1024 * 1024 + 1
    head = (
        b"POST /prep HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % size
    )
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await stream.send_all(head)
            # the server may answer and close before it has read everything
            with contextlib.suppress(trio.BrokenResourceError):
                await stream.send_all(b"x" * size)
            received = b""
            while b"\r\n\r\n" not in received or not received.endswith(b"}"):
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413")
    assert b"application/json" in rest
    assert b'"code":"payload_too_large"' in rest


async def test_validation_error_names_the_field(service: Service) -> None:
    async with service.client() as client:
        response = await client.post("/prep", json={"repoUrl": "/tmp/x", "taskId": "abc"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"][0]["field"] == "taskId"


async def test_invalid_json_and_unknown_fields_are_400(service: Service) -> None:
    async with service.client() as client:
        broken = await client.post(
            "/prep", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        extra = await client.post("/prep", json={"repoUrl": "/x", "taskId": "1.1", "bogus": 1})
    assert broken.status_code == 400
    assert broken.json()["error"]["details"][0]["field"] == "body"
    assert extra.status_code == 400
    assert extra.json()["error"]["details"][0] == {"field": "bogus", "message": "unknown field"}


async def test_request_id_is_echoed_or_generated(service: Service) -> None:
    async with service.client() as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        generated = await client.get("/healthz")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32


async def test_unexpected_stage_crash_is_json_500_with_request_id(
    service: Service, stages: object
) -> None:
    stages.crash.add("prep")  # type: ignore[attr-defined]
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/tmp/repo"})
        response = await client.post(
            "/prep",
            json={"repoUrl": "/tmp/repo", "taskId": "1.1.1", "customerId": "acme"},
            headers={"X-Request-ID": "req-42"},
        )
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "internal"
    assert body["error"]["requestId"] == "req-42"
    assert "Traceback" not in response.text


async def test_metrics_count_requests_by_route_and_status(service: Service) -> None:
    async with service.client() as client:
        await client.get("/healthz")
        response = await client.get("/metrics")
    text = response.text
    assert response.status_code == 200
    assert 'devteam_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'devteam_http_request_duration_seconds_count{method="GET",route="/healthz"} 1.0' in text
    assert "devteam_ws_subscribers" in text
    assert "devteam_active_runs" in text


async def test_openapi_lists_every_endpoint(service: Service) -> None:
    async with service.client() as client:
        schema = (await client.get("/openapi.json")).json()
    paths = set(schema["paths"])
    for path in ["/health", "/prep", "/implement", "/verify", "/tasks/next", "/customers",
                 "/customers/{customer_id}", "/customers/{customer_id}/run", "/audit",
                 "/customers/{customer_id}/runs",
                 "/customers/{customer_id}/runs/{run_id}"]:  # fmt: skip
        assert path in paths, path
    assert "507" in schema["paths"]["/customers/{customer_id}"]["put"]["responses"]
    assert "507" in schema["paths"]["/prep"]["post"]["responses"]
    # the routes accept customer ids only (400 otherwise), and the document says so
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "customer_id":
                    assert parameter["schema"]["pattern"] == CUSTOMER_ID, path
                    assert "400" in operation["responses"], path


async def test_filesystem_not_writable_is_503(service: Service) -> None:
    workspace = service.settings.workspace_dir
    shutil.rmtree(workspace)
    workspace.write_text("a file where the workspace directory should be")
    async with service.client() as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["dependencies"]["filesystem"] == "not writable"


async def test_keep_alive_survives_a_body_sent_after_the_headers(service: Service) -> None:
    """A 405 or OPTIONS whose body arrives late must not leave the connection hanging."""
    import trio

    host, port = service.url.removeprefix("http://").split(":")
    body = b'{"idempotencyKey": "x"}'
    head = (
        b"OPTIONS /customers/acme/pause HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await stream.send_all(head)
            with trio.move_on_after(0.3):  # the server waits for the body before answering
                early = await stream.receive_some(65536)
                raise AssertionError(f"answered before the body arrived: {early[:40]!r}")
            await stream.send_all(body)
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            received = b""
            while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b'"ok"}'):
                received += await stream.receive_some(65536)
    assert received.startswith(b"HTTP/1.1 200")
    assert b'{"status":"ok"}' in received


async def test_housekeeping_prunes_old_events_and_expired_keys(tmp_path: pathlib.Path) -> None:
    from datetime import UTC, datetime, timedelta

    import trio

    from runner.app import housekeep_once
    from tests.helpers.fake_stages import FakeStages
    from tests.helpers.service import running_service, service_settings

    clock = {"now": datetime(2026, 1, 1, tzinfo=UTC)}
    settings = service_settings(tmp_path, events_keep_per_customer=3, idempotency_ttl_hours=1.0)
    stages = FakeStages()
    with trio.fail_after(30):
        async with running_service(settings, stages, now=lambda: clock["now"]) as service:
            async with service.client() as client:
                await client.put("/customers/acme", json={"repoUrl": "/srv/a.git"})
                body = {"repoUrl": "/srv/a.git", "taskId": "1.1.1", "idempotencyKey": "k"}
                await client.post("/prep", json=body)
                await client.post("/prep", json={**body, "idempotencyKey": None})
                clock["now"] += timedelta(hours=2)
                counts = await housekeep_once(service.services, stages)
                events = await service.services.store.events.since(["acme"], -1, 100)
                await client.post("/prep", json=body)
    assert counts["idempotency_purged"] == 1
    assert counts["events_pruned"] > 0
    assert len(events) == 3
    assert sum(1 for _c, stage, _t in stages.calls if stage == "prep") == 3  # the key expired
