"""PREP over authenticated HTTP git, and the error paths of the stage endpoints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import structlog
import trio
from trio_websocket import open_websocket_url

from runner.pipeline import PipelineStages
from tests.helpers.calc_repo import FILES, make_tool
from tests.helpers.git_server import GitHttpServer
from tests.helpers.gitrepo import commit_files, make_remote
from tests.helpers.service import Service, running_service, service_settings
from tests.helpers.ws import frames_until

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "tok-Zx81Qw-secret-value-4242"
USER = "deploy-bot"


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    make_remote(tmp_path / "srv" / "calc.git", FILES)
    with GitHttpServer(tmp_path / "srv", username=USER, token=TOKEN) as running:
        yield running


async def test_prep_over_https_auth_never_leaks_the_token(
    tmp_path: Path, git_server: GitHttpServer
) -> None:
    url = git_server.url("calc.git")
    settings = service_settings(tmp_path, git_username=USER, git_token=TOKEN)
    with structlog.testing.capture_logs() as logs, trio.fail_after(120):
        async with running_service(settings, PipelineStages()) as service:
            async with service.client() as client:
                await client.put("/customers/acme", json={"repoUrl": url})
                prep = await client.post(
                    "/prep", json={"repoUrl": url, "taskId": "1.1.1", "customerId": "acme"}
                )
                audit = await client.get("/audit")
                state = await client.get("/customers/acme")
            async with open_websocket_url(f"{service.ws_url}/ws/devteam?since=0") as ws:
                events = await frames_until(ws, lambda f: f.get("status") == "IDLE")
    assert prep.status_code == 200, prep.text
    workspace = Path(prep.json()["repoPath"])
    for text in (prep.text, audit.text, state.text, repr(logs), repr(events)):
        assert TOKEN not in text
    assert _files_containing(workspace, TOKEN.encode()) == []
    assert TOKEN not in (workspace / ".git" / "config").read_text()


async def test_wrong_token_is_409_git_auth_failed(
    tmp_path: Path, git_server: GitHttpServer
) -> None:
    url = git_server.url("calc.git")
    settings = service_settings(tmp_path, git_username=USER, git_token="tok-wrong-0000000000")
    with trio.fail_after(120):
        async with running_service(settings, PipelineStages()) as service:
            async with service.client() as client:
                prep = await client.post("/prep", json={"repoUrl": url, "taskId": "1.1.1"})
    assert prep.status_code == 409
    assert prep.json()["error"]["code"] == "git_auth_failed"
    assert prep.json()["failure"]["transient"] is False
    assert "tok-wrong" not in prep.text


@pytest.fixture
async def service(tmp_path: Path) -> Service:  # type: ignore[misc]
    settings = service_settings(tmp_path, tool_command=make_tool(tmp_path),
                                python_path=sys.executable)  # fmt: skip
    with trio.fail_after(120):
        async with running_service(settings, PipelineStages()) as svc:
            yield svc


async def test_missing_and_broken_task_lists_are_404_and_422(
    service: Service, tmp_path: Path
) -> None:
    bare = make_remote(tmp_path / "nolist.git", {"README.md": "x\n"})
    broken = make_remote(tmp_path / "broken.git", {
        "docs/DevTeam/tasks_list.md":
            "1.1 G\n1.1.1 A (Dependencies: 1.1.2)\n1.1.2 B (Dependencies: 1.1.1)\n",
    })  # fmt: skip
    async with service.client() as client:
        await client.put("/customers/nolist", json={"repoUrl": str(bare)})
        await client.put("/customers/broken", json={"repoUrl": str(broken)})
        missing = await client.get("/tasks/next", params={"customerId": "nolist"})
        cycle = await client.get("/tasks/next", params={"customerId": "broken"})
        neither = await client.get("/tasks/next")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "task_list_not_found"
    assert cycle.status_code == 422
    assert cycle.json()["error"]["code"] == "task_list_invalid"
    assert any("line" in d for d in cycle.json()["error"]["details"])
    assert neither.status_code == 400


async def test_implement_rejects_paths_out_of_the_repo_and_reports_no_change(
    service: Service, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path / "calc.git", FILES)
    (tmp_path / "tool" / "hang-none").write_text("")
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": str(remote), "tool": "command"})
        prep = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
        branch = prep.json()["branch"]
        escape = await client.post("/implement", json={
            "taskId": "1.1.1", "branch": branch, "criteria": {"files": ["../../etc/passwd"]},
        })  # fmt: skip
        # a task the scripted tool does not know: it exits 1 without changing anything
        commit_files(remote, {"docs/DevTeam/tasks_list.md": FILES["docs/DevTeam/tasks_list.md"]
                              + "1.1.4 Add nothing to [calc/ops.py](calc/ops.py).\n"})  # fmt: skip
        prep4 = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.4"})
        no_change = await client.post(
            "/implement", json={"taskId": "1.1.4", "branch": prep4.json()["branch"]}
        )
    assert escape.status_code == 400
    assert escape.json()["error"]["details"][0]["field"] == "criteria.files.0"
    assert prep4.status_code == 200, prep4.text
    assert no_change.status_code == 500
    body = no_change.json()
    assert body["error"]["code"] == "tool_no_change"
    assert body["taskId"] == "1.1.4"
    assert "KeyError" in body["artifacts"]["stderr"]
