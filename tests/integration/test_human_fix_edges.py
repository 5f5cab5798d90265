"""Resume after a person (or the janitor) stepped in: nothing unverified is ever merged."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import trio
from trio_websocket import open_websocket_url

from tests.helpers.calc_repo import FILES
from tests.helpers.gitrepo import commit_files, git
from tests.helpers.ws import frames_until, status_is
from tests.integration.test_human_fix import _failed_at_verify, _register, _task_stages, _until

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.service import Service

BROKEN_SUB = "\n\ndef sub(a: int, b: int) -> int:\n    return a + b\n"


async def test_a_lost_workspace_is_implemented_again_not_completed_empty(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    with trio.fail_after(180):
        failed = await _failed_at_verify(service, remote, tool_dir)
        shutil.rmtree(service.settings.workspace_dir / "acme")  # the janitor, say
        (tool_dir / "break-1.1.1").unlink()
        done = await _until(service, "/customers/acme/resume", "DONE", "FAILED")
    assert done["status"] == "DONE", done.get("error")
    stages = await _task_stages(service, failed["runId"], "1.1.1")
    after = [s["stage"] for s in stages[-4:]]
    assert after == ["prep", "implement", "verify", "complete"]
    assert stages[-4]["result"]["branchCreated"] is True
    (ws,) = (service.settings.workspace_dir / "acme").iterdir()
    assert "def sub(" in git("show", "main:calc/ops.py", cwd=ws)


async def test_resume_from_complete_is_refused(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    with trio.fail_after(180):
        await _failed_at_verify(service, remote, tool_dir)
        async with service.client() as client:
            response = await client.post("/customers/acme/resume", json={"from": "complete"})
            state = (await client.get("/customers/acme")).json()["state"]
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "from"
    assert state["status"] == "FAILED"


async def test_a_complete_whose_push_failed_is_completed_again_on_resume(
    service: Service, remote: Path
) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    async with service.client() as client:
        body = {"repoUrl": str(remote), "tool": "command", "maxAttempts": 1, "push": True}
        assert (await client.put("/customers/acme", json=body)).status_code == 200
    with trio.fail_after(180):
        failed = await _until(service, "/customers/acme/run", "FAILED", "DONE")
        assert failed["error"]["stage"] == "complete", failed["error"]
        hook.unlink()
        done = await _until(service, "/customers/acme/resume", "DONE", "FAILED")
    assert done["status"] == "DONE", done.get("error")
    stages = await _task_stages(service, failed["runId"], "1.1.1")
    resumed = [(s["stage"], s["outcome"]) for s in stages if s["stage"] != "select"][-2:]
    assert resumed == [("prep", "ok"), ("complete", "ok")]  # not the tool again
    ops = git("show", "main:calc/ops.py", cwd=remote)
    assert ops.count("def sub(") == 1


async def test_a_persons_push_while_paused_before_complete_is_verified_first(
    service: Service, remote: Path
) -> None:
    await _register(service, remote)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(180):
        async with open_websocket_url(url) as ws, service.client() as client:
            assert (await client.post("/customers/acme/run")).status_code == 202
            await frames_until(ws, status_is("VERIFYING"))
            assert (await client.post("/customers/acme/pause")).status_code == 200
            await frames_until(ws, status_is("PAUSED", "FAILED", "DONE"))
            paused = (await client.get("/customers/acme")).json()["state"]
        assert (paused["status"], paused["currentTask"]) == ("PAUSED", "1.1.1")
        main = git("rev-parse", "main", cwd=remote)
        commit_files(remote, {"calc/ops.py": FILES["calc/ops.py"] + BROKEN_SUB}, "by hand",
                     branch=paused["branch"], parents=[main])  # fmt: skip
        again = await _until(service, "/customers/acme/resume", "DONE", "FAILED")
    stages = await _task_stages(service, paused["runId"], "1.1.1")
    assert [(s["stage"], s["outcome"]) for s in stages[-2:]] == [("prep", "ok"),
                                                                 ("verify", "failed")]  # fmt: skip
    assert again["status"] == "FAILED"
    assert "def sub(" not in git("show", "main:calc/ops.py", cwd=remote)
