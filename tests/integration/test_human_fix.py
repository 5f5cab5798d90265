"""A person steps in after a run stopped: `resume` fetches first and takes their fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
from trio_websocket import open_websocket_url

from tests.helpers.calc_repo import FILES
from tests.helpers.gitrepo import commit_files, git, make_remote
from tests.helpers.ws import frames_until, status_is

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.service import Service

FIXED_SUB = "\n\ndef sub(a: int, b: int) -> int:\n    return a - b  # fixed by hand\n"
FIXED_TEST = "\n\ndef test_sub() -> None:\n    assert sub(6, 3) == 3\n"


async def _register(service: Service, remote: Path) -> None:
    async with service.client() as client:
        body = {"repoUrl": str(remote), "tool": "command", "maxAttempts": 1}
        response = await client.put("/customers/acme", json=body)
        assert response.status_code == 200, response.text


async def _until(service: Service, path: str, *final: str) -> dict[str, Any]:
    """POST ``path`` and return the state once it reaches one of ``final``."""
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    async with open_websocket_url(url) as ws, service.client() as client:
        response = await client.post(path)
        assert response.status_code in (200, 202), response.text
        await frames_until(ws, status_is(*final))
        state: dict[str, Any] = (await client.get("/customers/acme")).json()["state"]
    return state


async def _task_stages(service: Service, run_id: str, task_id: str) -> list[dict[str, Any]]:
    async with service.client() as client:
        run = (await client.get(f"/customers/acme/runs/{run_id}")).json()
    return [s for t in run["tasks"] if t["taskId"] == task_id for s in t["stages"]]


async def _failed_at_verify(service: Service, remote: Path, tool_dir: Path) -> dict[str, Any]:
    """Run with a tool whose ``sub`` is wrong (its test fails) until VERIFY stops the run."""
    (tool_dir / "break-1.1.1").write_text("")
    await _register(service, remote)
    failed = await _until(service, "/customers/acme/run", "FAILED", "DONE")
    assert (failed["status"], failed["currentTask"]) == ("FAILED", "1.1.1")
    assert failed["error"]["stage"] == "verify"
    return failed


async def test_a_persons_fix_pushed_to_the_task_branch_is_verified_on_resume(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    with trio.fail_after(180):
        failed = await _failed_at_verify(service, remote, tool_dir)
        branch = failed["branch"]
        # a person does the task by hand on the task branch and pushes it
        ops = FILES["calc/ops.py"] + FIXED_SUB
        test = FILES["tests/test_ops.py"].replace("import add", "import add, sub") + FIXED_TEST
        main = git("rev-parse", "main", cwd=remote)
        theirs = commit_files(remote, {"calc/ops.py": ops, "tests/test_ops.py": test},
                              "1.1.1 by hand", branch=branch, parents=[main])  # fmt: skip
        (tool_dir / "break-1.1.1").unlink()
        done = await _until(service, "/customers/acme/resume", "DONE", "FAILED")
    assert done["status"] == "DONE", done.get("error")
    stages = await _task_stages(service, failed["runId"], "1.1.1")
    resumed = [(s["stage"], s["outcome"]) for s in stages[-3:]]
    assert resumed == [("prep", "ok"), ("verify", "ok"), ("complete", "ok")]  # no tool again
    assert stages[-3]["result"]["branchSynced"] == "taken-from-remote"
    (ws,) = (service.settings.workspace_dir / "acme").iterdir()  # push is off: the local base
    assert git("merge-base", "--is-ancestor", theirs, "main", cwd=ws) == ""
    assert "fixed by hand" in git("show", "main:calc/ops.py", cwd=ws)


async def test_a_base_fix_is_merged_into_the_task_branch_on_resume(
    service: Service, tmp_path: Path
) -> None:
    legacy = "def legacy(x):\n    return x\n"  # mypy --strict: no annotations, on the base
    remote = make_remote(tmp_path / "red.git", {**FILES, "calc/legacy.py": legacy})
    await _register(service, remote)
    with trio.fail_after(180):
        failed = await _until(service, "/customers/acme/run", "FAILED", "DONE")
        assert failed["status"] == "FAILED"
        assert failed["error"]["details"]["results"]["type.strict"]["passed"] is False
        typed = "def legacy(x: int) -> int:\n    return x\n"
        commit_files(remote, {"calc/legacy.py": typed}, "type legacy (a person's base fix)")
        done = await _until(service, "/customers/acme/resume", "DONE", "FAILED")
    assert done["status"] == "DONE", done.get("error")
    stages = await _task_stages(service, failed["runId"], "1.1.1")
    assert stages[-3]["stage"] == "prep"
    assert stages[-3]["result"]["branchSynced"] == "merged-base"
    assert [s["stage"] for s in stages[-2:]] == ["verify", "complete"]
    assert "x: int" in git("show", "main:calc/legacy.py", cwd=remote)


async def test_a_base_fix_that_conflicts_with_the_tools_change_stops_naming_the_files(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    with trio.fail_after(180):
        failed = await _failed_at_verify(service, remote, tool_dir)
        assert failed["status"] == "FAILED"
        ops = FILES["calc/ops.py"] + FIXED_SUB
        commit_files(remote, {"calc/ops.py": ops}, "sub by hand on main")
        again = await _until(service, "/customers/acme/resume", "FAILED", "DONE")
    error = again["error"]
    assert (error["stage"], error["code"]) == ("prep", "merge_conflict")
    assert error["details"]["files"] == ["calc/ops.py"]
    assert "calc/ops.py" in error["message"]


async def test_resume_from_verify_re_verifies_the_branch_as_it_is(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    with trio.fail_after(180):
        failed = await _failed_at_verify(service, remote, tool_dir)
        async with service.client() as client:
            bad = await client.post("/customers/acme/resume", json={"from": "deploy"})
            assert bad.status_code == 400
            assert bad.json()["error"]["details"][0]["field"] == "from"
        url = f"{service.ws_url}/ws/devteam?customerId=acme"
        async with open_websocket_url(url) as ws, service.client() as client:
            response = await client.post("/customers/acme/resume", json={"from": "verify"})
            assert response.status_code == 200
            assert response.json()["status"] == "VERIFYING"
            await frames_until(ws, status_is("FAILED", "DONE"))
    stages = await _task_stages(service, failed["runId"], "1.1.1")
    assert [(s["stage"], s["outcome"]) for s in stages[-2:]] == [("prep", "ok"),
                                                                 ("verify", "failed")]  # fmt: skip


async def test_a_skipped_task_is_passed_over_its_dependants_wait_and_it_is_audited(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    with trio.fail_after(180):
        failed = await _failed_at_verify(service, remote, tool_dir)
        assert failed["currentTask"] == "1.1.1"
        async with service.client() as client:
            url = "/customers/acme/tasks/1.1.1/skip"
            missing = await client.post(url, json={})
            assert missing.status_code == 400
            assert missing.json()["error"]["details"][0]["field"] == "reason"
            bad = await client.post("/customers/acme/tasks/one/skip", json={"reason": "x"})
            assert (bad.status_code, bad.json()["error"]["details"][0]["field"]) == (400, "taskId")
            unknown = await client.post("/customers/acme/tasks/9.9.9/skip", json={"reason": "x"})
            assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "task_not_found")
            group = await client.post("/customers/acme/tasks/1.1/skip", json={"reason": "x"})
            assert group.status_code == 400, group.text
            assert "only atomic tasks are skipped" in group.json()["error"]["message"]
            skipped = await client.post(url, json={"reason": "needs a product decision"})
            assert skipped.status_code == 200, skipped.text
            body = skipped.json()
            assert (body["taskId"], body["reason"]) == ("1.1.1", "needs a product decision")
            assert body["state"]["currentTask"] is None
        # the list orders the group's tasks: 1.1.2 waits for 1.1.1, which is never done
        blocked = await _until(service, "/customers/acme/resume", "DONE", "FAILED")
        async with service.client() as client:
            audit = (await client.get("/audit?customerId=acme")).json()["entries"]
    assert (blocked["status"], blocked["error"]["code"]) == ("FAILED", "tasks_blocked")
    assert "waiting for 1.1.1 (skipped)" in blocked["error"]["message"]
    assert "def sub(" not in git("show", "main:calc/ops.py", cwd=remote)
    (row,) = [e for e in audit if e["action"].endswith("/skip") and e["statusCode"] == 200]
    assert row["detail"]["reason"] == "needs a product decision"
    assert row["detail"]["path"] == "/customers/acme/tasks/1.1.1/skip"
