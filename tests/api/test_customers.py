from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.helpers.service import Service


async def test_put_registers_and_get_returns_customer_with_state(service: Service) -> None:
    async with service.client() as client:
        put = await client.put(
            "/customers/acme", json={"repoUrl": "/srv/repo.git", "push": True, "tool": "aider"}
        )
        got = await client.get("/customers/acme")
        listed = await client.get("/customers")
    assert put.status_code == 200
    body = got.json()
    assert body["customerId"] == "acme"
    assert body["repoUrl"] == "/srv/repo.git"
    assert body["baseBranch"] == "main"
    assert body["tasksFile"] == "docs/DevTeam/tasks_list.md"
    assert body["push"] is True
    assert body["state"]["status"] == "IDLE"
    assert body["state"]["customerId"] == "acme"
    assert [c["customerId"] for c in listed.json()["customers"]] == ["acme"]


async def test_put_is_idempotent_and_keeps_created_at(service: Service) -> None:
    async with service.client() as client:
        first = (await client.put("/customers/acme", json={"repoUrl": "/srv/a.git"})).json()
        second = (await client.put("/customers/acme", json={"repoUrl": "/srv/b.git"})).json()
    assert first["createdAt"] == second["createdAt"]
    assert second["repoUrl"] == "/srv/b.git"


async def test_bad_customer_id_and_unknown_tool_are_400(service: Service) -> None:
    async with service.client() as client:
        bad_id = await client.put("/customers/-bad", json={"repoUrl": "/srv/a.git"})
        bad_tool = await client.put("/customers/ok", json={"repoUrl": "/srv/a.git", "tool": "x"})
    assert bad_id.status_code == 400
    assert bad_id.json()["error"]["details"][0]["field"] == "customerId"
    assert bad_tool.status_code == 400
    assert bad_tool.json()["error"]["details"][0] == {
        "field": "tool",
        "message": "unknown tool 'x'; known tools: aider, command",
    }
    assert bad_tool.json()["error"]["message"].startswith("tool: unknown tool 'x'")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/customers/ok/run", {"tool": "x"}),
        ("/implement", {"taskId": "1.1.1", "customerId": "ok", "tool": "x"}),
    ],
)
async def test_an_unknown_tool_is_refused_where_a_request_names_it(
    service: Service, path: str, body: dict[str, str]
) -> None:
    async with service.client() as client:
        response = await client.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "tool"


async def test_repo_url_with_credentials_is_rejected_without_echoing_them(
    service: Service,
) -> None:
    async with service.client() as client:
        response = await client.put(
            "/customers/acme", json={"repoUrl": "https://bob:hunter22secret@example.com/r.git"}
        )
    assert response.status_code == 400
    assert "hunter22secret" not in response.text
    assert response.json()["error"]["details"][0]["field"] == "repoUrl"


async def test_unknown_customer_is_404(service: Service) -> None:
    async with service.client() as client:
        response = await client.get("/customers/ghost")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "customer_not_found"


async def test_audit_records_state_changing_requests(service: Service) -> None:
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/a.git"})
        await client.put("/customers/-bad", json={"repoUrl": "/srv/a.git"})
        await client.get("/customers/acme")
        entries = (await client.get("/audit")).json()["entries"]
        filtered = (await client.get("/audit", params={"customerId": "acme"})).json()["entries"]
    actions = [(e["action"], e["statusCode"], e["tokenId"]) for e in entries]
    assert actions == [
        ("PUT /customers/<customer_id>", 400, "anonymous"),
        ("PUT /customers/<customer_id>", 200, "anonymous"),
    ]
    assert [e["customerId"] for e in filtered] == ["acme"]
    assert filtered[0]["outcome"] == "ok"
