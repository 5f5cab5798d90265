"""The dashboard's page and files, and ``GET /customers/{id}/tasks`` on scripted stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from runner.config import parse_api_tokens
from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import running_service, service_settings

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.service import Service


async def test_page_is_served_at_the_root_with_a_strict_csp(service: Service) -> None:
    async with service.client() as client:
        page = await client.get("/")
        script = await client.get("/static/app.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_unknown_static_file_is_a_json_404(service: Service) -> None:
    async with service.client() as client:
        missing = await client.get("/static/nope.js")
        outside = await client.get("/static/../app.py")
    for response in (missing, outside):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


async def test_page_is_not_in_the_openapi_document(service: Service) -> None:
    async with service.client() as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/" not in paths
    assert "/customers/{customer_id}/tasks" in paths


async def test_page_needs_no_token_but_the_api_does(tmp_path: Path) -> None:
    settings = service_settings(tmp_path, api_tokens=parse_api_tokens("secret-token=*"))
    with trio.fail_after(60):
        async with running_service(settings, FakeStages()) as svc, svc.client() as client:
            page = await client.get("/")
            style = await client.get("/static/style.css")
            api = await client.get("/customers")
    assert (page.status_code, style.status_code) == (200, 200)
    assert api.status_code == 401


async def test_tasks_of_unknown_customer_is_404(service: Service) -> None:
    async with service.client() as client:
        missing = await client.get("/customers/nobody/tasks")
        bad = await client.get("/customers/-bad/tasks")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "customer_not_found"
    assert bad.status_code == 400


async def test_tasks_before_any_list_was_read_is_409(service: Service) -> None:
    # scripted stages read no task list: the actor has none to show
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/acme.git"})
        response = await client.get("/customers/acme/tasks")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "task_list_not_read"
