"""``GET /customers/{id}/tasks`` on a real repository: read through the customer's actor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_websocket import open_websocket_url

from tests.helpers.ws import frames_until, status_is

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.service import Service


async def _register(service: Service, remote: Path) -> None:
    async with service.client() as client:
        response = await client.put(
            "/customers/acme", json={"repoUrl": str(remote), "tool": "command"}
        )
        assert response.status_code == 200, response.text


def _states(body: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    tasks = body["tasks"]
    assert isinstance(tasks, list)
    return {t["id"]: (t["state"], t["reason"]) for t in tasks}


async def test_task_tree_names_next_and_blocked_tasks(service: Service, remote: Path) -> None:
    await _register(service, remote)
    async with service.client() as client:
        response = await client.get("/customers/acme/tasks")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["totalTasks"], body["completedTasks"], body["nextTask"]) == (3, 0, "1.1.1")
    assert _states(body) == {
        "1.1.1": ("next", None),
        "1.1.2": ("blocked", "waiting for 1.1.1"),
        "1.1.3": ("blocked", "waiting for 1.1.2"),
        "1.1.A": ("open", None),
        "1.1.B": ("open", None),
        "1.1.C": ("open", None),
    }
    (task,) = [t for t in body["tasks"] if t["id"] == "1.1.2"]
    assert task["dependencies"] == ["1.1.1"]
    assert task["files"] == ["calc/ops.py"]
    assert task["title"] == "Add mul function to calc/ops.py"
    assert body["groups"][0]["tasks"] == ["1.1.1", "1.1.2", "1.1.3"]
    assert body["phases"] == [{"id": "1", "title": "Calculator", "line": 3, "completed": False}]


async def test_task_tree_shows_a_skipped_task(service: Service, remote: Path) -> None:
    await _register(service, remote)
    async with service.client() as client:
        skip = await client.post("/customers/acme/tasks/1.1.1/skip", json={"reason": "later"})
        assert skip.status_code == 200, skip.text
        body = (await client.get("/customers/acme/tasks")).json()
    states = _states(body)
    assert states["1.1.1"] == ("skipped", "skipped by a person")
    assert states["1.1.2"] == ("blocked", "waiting for 1.1.1 (skipped)")
    assert body["nextTask"] is None
    async with service.client() as client:
        undone = await client.delete("/customers/acme/tasks/1.1.1/skip")
        assert undone.status_code == 200, undone.text
        after = (await client.get("/customers/acme/tasks")).json()
        nxt = (await client.get("/tasks/next?customerId=acme")).json()
    assert _states(after)["1.1.1"] == ("next", None)
    assert (after["nextTask"], nxt["task"]["id"]) == ("1.1.1", "1.1.1")  # SELECT takes it again


async def test_task_tree_during_a_run_is_the_list_the_run_read(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    (tool_dir / "hang-1.1.1").write_text("")
    await _register(service, remote)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    async with open_websocket_url(url) as ws, service.client() as client:
        await client.post("/customers/acme/run")
        await frames_until(ws, status_is("IMPLEMENTING"))
        response = await client.get("/customers/acme/tasks")
        await client.post("/customers/acme/stop")
        await frames_until(ws, status_is("STOPPED"))
    assert response.status_code == 200, response.text
    assert response.json()["nextTask"] == "1.1.1"
