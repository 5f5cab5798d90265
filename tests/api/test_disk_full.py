"""A full volume: /health says so, writes answer 507, a run stops FAILED and is saved later."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.helpers.service import Service, running_service, service_settings
from tests.helpers.ws import frames_until, status_is

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.helpers.fake_stages import FakeStages

_MB = 1024 * 1024
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class FullableConnection(sqlite3.Connection):
    """A real connection whose writes fail as SQLite's do on a full disk, while ``full``."""

    full: ClassVar[bool] = False
    refused: ClassVar[int] = 0

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if FullableConnection.full and sql.lstrip().upper().startswith(_WRITES):
            FullableConnection.refused += 1
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


@pytest.fixture
async def service(
    tmp_path: Path, stages: FakeStages, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Service]:
    connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda *a, **k: connect(*a, factory=FullableConnection, **k)
    )
    monkeypatch.setattr(FullableConnection, "full", False)
    monkeypatch.setattr(FullableConnection, "refused", 0)
    with trio.fail_after(60):
        async with running_service(service_settings(tmp_path), stages) as svc:
            yield svc


async def _health(service: Service) -> tuple[int, dict[str, Any]]:
    async with service.client() as client:
        response = await client.get("/health")
    return response.status_code, response.json()


async def test_low_free_space_on_either_volume_is_unhealthy_naming_it(service: Service) -> None:
    settings = service.settings
    free = {settings.workspace_dir.absolute(): 10_000 * _MB,
            settings.database_path.absolute().parent: 10_000 * _MB}  # fmt: skip
    service.services.health.free_bytes = lambda path: free[path]
    status, body = await _health(service)
    assert status == 200
    assert body["dependencies"]["workspaceVolume"] == "10000 MB free"

    free[settings.workspace_dir.absolute()] = 120 * _MB
    status, body = await _health(service)
    assert (status, body["status"]) == (503, "unhealthy")
    assert body["dependencies"]["workspaceVolume"] == "low: 120 MB free (MIN_FREE_MB is 500)"
    assert body["dependencies"]["databaseVolume"] == "10000 MB free"

    free[settings.workspace_dir.absolute()] = 10_000 * _MB
    free[settings.database_path.absolute().parent] = 499 * _MB
    status, body = await _health(service)
    assert status == 503
    assert body["dependencies"]["databaseVolume"].startswith("low: 499 MB free")

    free[settings.database_path.absolute().parent] = 500 * _MB
    assert (await _health(service))[0] == 200


async def _wait_health(service: Service, status: int) -> dict[str, Any]:
    with trio.fail_after(10):
        while True:
            code, body = await _health(service)
            if code == status:
                return body
            await trio.sleep(0.1)  # the store probe's answer is kept 0.5 s


async def test_a_full_disk_is_unhealthy_and_writes_answer_507_then_recover(
    service: Service,
) -> None:
    async with service.client() as client:
        assert (await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})).is_success
        FullableConnection.full = True
        body = await _wait_health(service, 503)
        assert body["dependencies"]["store"].startswith("full")

        response = await client.put("/customers/globex", json={"repoUrl": "/srv/globex"})
        assert response.status_code == 507
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["code"] == "insufficient_storage"
        assert error["requestId"] == response.headers["X-Request-ID"]

        response = await client.post("/customers/acme/run")
        assert response.status_code == 507
        assert response.json()["error"]["code"] == "insufficient_storage"
        state = (await client.get("/customers/acme")).json()["state"]
        assert (state["status"], state["runId"], state["startTime"]) == ("IDLE", None, None)
        assert (await client.get("/customers/acme/runs")).json()["runs"] == []

        FullableConnection.full = False
        await _wait_health(service, 200)
        assert (await client.put("/customers/globex", json={"repoUrl": "/srv/g"})).is_success
        assert (await client.post("/customers/acme/run")).status_code == 202


async def test_a_run_that_hits_a_full_disk_stops_failed_and_is_saved_once_space_is_back(
    service: Service, stages: FakeStages
) -> None:
    gate = stages.gate("implement")
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            run_id = (await client.post("/customers/acme/run")).json()["runId"]
            await stages.entered["implement"].wait()
            FullableConnection.full = True
            gate.set()
            while FullableConnection.refused < 3:  # noqa: ASYNC110  # nothing to wait on
                await trio.sleep(0.05)
            unsaved = (await client.get("/customers/acme")).json()["state"]
            assert unsaved["status"] == "IMPLEMENTING"  # memory never runs ahead of the disk
            FullableConnection.full = False
            frames = await frames_until(ws, status_is("FAILED"))
            state = (await client.get("/customers/acme")).json()["state"]
            run = (await client.get(f"/customers/acme/runs/{run_id}")).json()
    assert frames[-1]["error"]["code"] == "insufficient_storage"
    assert frames[-1]["error"]["stage"] == "implement"
    assert state["status"] == "FAILED"
    assert state["error"]["code"] == "insufficient_storage"
    saved = await service.services.store.customers.load_all_states()
    assert (saved["acme"]["status"], saved["acme"]["error"]["code"]) == (
        "FAILED", "insufficient_storage"
    )  # fmt: skip
    assert (run["status"], run["error"]["code"]) == ("FAILED", "insufficient_storage")


async def test_a_manual_stage_on_a_full_disk_is_507_and_rests_once_space_is_back(
    service: Service,
) -> None:
    prep = {"repoUrl": "/srv/acme", "taskId": "1.1.1", "customerId": "acme"}
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
        FullableConnection.full = True
        response = await client.post("/prep", json=prep)
        assert response.status_code == 507
        assert response.json()["error"]["code"] == "insufficient_storage"
        FullableConnection.full = False
        with trio.fail_after(10):
            while (response := await client.post("/prep", json=prep)).status_code == 409:  # noqa: ASYNC110
                await trio.sleep(0.1)  # busy until the resting state is saved (backoff)
        assert response.status_code == 200, response.text
        state = (await client.get("/customers/acme")).json()["state"]
    assert state["status"] == "IDLE"
    saved = await service.services.store.customers.load_all_states()
    assert saved["acme"]["status"] == "IDLE"
