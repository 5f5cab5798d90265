"""The spec's endpoints with real stages: git remotes, the scripted tool, real gates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    import httpx

    from tests.helpers.service import Service

TOKEN = "ghp_" + "Z" * 36


async def test_prep_implement_verify_round_trip(service: Service, remote: Path) -> None:
    async with service.client() as client:
        nxt = await client.get("/tasks/next", params={"repoUrl": str(remote)})
        assert nxt.status_code == 200
        body = nxt.json()
        assert body["task"]["id"] == "1.1.1"
        assert body["task"]["title"] == "Add sub function to calc/ops.py"
        assert body["task"]["files"] == ["calc/ops.py"]
        assert (body["totalTasks"], body["completedTasks"], body["progress"]) == (3, 0, 0.0)

        prep = await client.post(
            "/prep", json={"repoUrl": str(remote), "taskId": "1.1.1", "idempotencyKey": "p1"}
        )
        assert prep.status_code == 200, prep.text
        prepped = prep.json()
        assert prepped["branch"] == "task/1-1-1-add-sub-function"
        assert prepped["artifacts"]["branchCreated"] is True
        assert prepped["customerId"] == "default"
        state = (await client.get("/customers/default")).json()["state"]
        assert (state["status"], state["branch"]) == ("IDLE", prepped["branch"])  # at rest
        events = await service.services.store.events.since(["default"], 0, 100)
        updates = [e.payload["status"] for e in events if e.type == "execution-update"]
        assert updates[-2:] == ["PREPARING", "IDLE"]
        again = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
        assert again.json()["artifacts"]["branchCreated"] is False
        assert again.json()["branch"] == prepped["branch"]

        implement = await client.post(
            "/implement",
            json={"taskId": "1.1.1", "branch": prepped["branch"], "tool": "command"},
        )
        assert implement.status_code == 200, implement.text
        artifacts = implement.json()["artifacts"]
        assert "+def sub(a: int, b: int) -> int:" in artifacts["diff"]
        assert artifacts["filesModified"] == [
            "calc/ops.py", "docs/DevTeam/task_outcomes.md", "tests/test_ops.py"
        ]  # fmt: skip
        assert artifacts["linesChanged"] > 0
        # task_outcomes.md is no default criterion any more (COMPLETE writes it per group)
        assert artifacts["outOfScope"] == ["docs/DevTeam/task_outcomes.md", "tests/test_ops.py"]
        assert "ghp_" not in implement.text  # the tool printed a token: redacted

        verify = await client.post("/verify", json={"taskId": "1.1.1", "branch": prepped["branch"]})
        assert verify.status_code == 200, verify.text
        results = verify.json()["results"]
        assert results["test.coverage"]["passed"] is True
        assert results["test.coverage"]["actual"] == "100%"
        assert results["type.strict"]["passed"] is True
        assert results["tests.pass"]["passed"] is True
        assert "doc.updated" not in results

        metrics = service.services.metrics.registry
        count = "devteam_process_duration_seconds_count"
        assert metrics.get_sample_value(count, {"kind": "tool", "name": "command"}) == 1
        assert metrics.get_sample_value(count, {"kind": "gates", "name": "verify"}) == 1
        assert metrics.get_sample_value("devteam_job_slot_wait_seconds_count") == 2
        events = await service.services.store.events.since(["default"], 0, 1000)
        logged = [line for e in events if e.type == "execution-log"
                  for line in e.payload["message"].split("\n")]  # fmt: skip
        assert any(line.startswith("[test] ") for line in logged)  # the gates' own lines

        unmet = await client.post(
            "/verify",
            json={"taskId": "1.1.1", "branch": prepped["branch"],
                  "criteria": {"doc.updated": "README.md"}},
        )  # fmt: skip
        assert unmet.status_code == 422
        assert unmet.json()["error"]["code"] == "criteria_not_met"
        assert unmet.json()["results"]["doc.updated"]["passed"] is False

    workspace = Path(prepped["repoPath"])
    log = await trio.run_process(
        ["git", "log", "-1", "--format=%s", prepped["branch"]], cwd=workspace, capture_stdout=True
    )
    assert log.stdout.decode().strip() == "Task 1.1.1: Add sub function to calc/ops.py"
    config = (workspace / ".git" / "config").read_text()
    assert TOKEN not in config


async def test_bad_requests_are_clear_errors(service: Service, remote: Path) -> None:
    async with service.client() as client:
        # registered beforehand: a failed /prep registers nobody
        await client.put("/customers/default", json={"repoUrl": str(remote)})
        missing_task = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "9.9.9"})
        unknown_tool = await client.post(
            "/implement", json={"taskId": "1.1.1", "tool": "vim", "customerId": "default"}
        )
        no_branch = await client.post(
            "/implement", json={"taskId": "1.1.2", "customerId": "default"}
        )
        bad_criterion = await client.post(
            "/verify",
            json={"taskId": "1.1.1", "customerId": "default", "criteria": {"speed": "fast"}},
        )
        unreachable = await client.post(
            "/prep", json={"repoUrl": str(remote.parent / "missing.git"), "taskId": "1.1.1",
                           "customerId": "other"},
        )  # fmt: skip
        ext = await client.post("/prep", json={"repoUrl": "ext::sh -c touch% /tmp/pwned",
                                              "taskId": "1.1.1"})  # fmt: skip
    assert missing_task.status_code == 404
    assert missing_task.json()["error"]["code"] == "task_not_found"
    assert unknown_tool.status_code == 400
    assert unknown_tool.json()["error"]["details"][0]["field"] == "tool"
    assert no_branch.status_code == 404
    assert no_branch.json()["error"]["code"] == "branch_not_found"
    assert bad_criterion.status_code in (400, 404)
    assert unreachable.status_code == 409
    assert unreachable.json()["error"]["code"] == "repo_not_found"
    assert ext.status_code == 400
    assert ext.json()["error"]["details"][0]["field"] == "repoUrl"


async def _prep_with_mark(client: httpx.AsyncClient, remote: Path) -> tuple[Path, Path]:
    """PREP task 1.1.1; return the workspace and its clean mark (the stage ended well)."""
    from runner.git import CLEAN_MARKER

    first = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
    workspace = Path(first.json()["repoPath"])
    marker = workspace / ".git" / CLEAN_MARKER
    assert marker.read_bytes() == b"1"  # set: the next stage may skip `git status`
    return workspace, marker


async def test_a_stage_that_did_not_finish_cleanly_is_repaired_by_the_next(
    service: Service, remote: Path
) -> None:
    async with service.client() as client:
        workspace, marker = await _prep_with_mark(client, remote)
        marker.write_bytes(b"0")  # as after a crash or a stop: clear
        (workspace / "junk.txt").write_text("left behind\n")
        (workspace / "calc" / "ops.py").write_text("broken\n")
        again = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
    assert again.status_code == 200
    assert not (workspace / "junk.txt").exists()
    assert (workspace / "calc" / "ops.py").read_text().startswith("def add")


async def test_a_failing_stage_takes_the_clean_mark_so_the_next_one_repairs(
    service: Service, remote: Path
) -> None:
    async with service.client() as client:
        workspace, marker = await _prep_with_mark(client, remote)
        (workspace / "junk.txt").write_text("as if the failing stage had left it\n")
        failed = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "9.9.9"})
        assert failed.status_code == 404
        assert marker.read_bytes() == b"0"  # the failed stage does not vouch for the tree
        assert (workspace / "junk.txt").exists()  # trusted: the first stage's mark was there
        again = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
    assert again.status_code == 200
    assert not (workspace / "junk.txt").exists()
    assert marker.read_bytes() == b"1"


async def test_prep_reads_the_task_list_of_the_freshly_fetched_base(
    service: Service, remote: Path
) -> None:
    from runner.git import CLEAN_MARKER
    from tests.helpers.calc_repo import TASKS
    from tests.helpers.gitrepo import commit_files, git

    async with service.client() as client:
        first = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
        workspace = Path(first.json()["repoPath"])
        tasks = TASKS + "1.1.4 Add neg function to [calc/ops.py](calc/ops.py).\n"
        newer = commit_files(remote, {"docs/DevTeam/tasks_list.md": tasks}, "a new task")
        second = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.4"})
    assert second.status_code == 200, second.text
    assert second.json()["branch"] == "task/1-1-4-add-neg-function"
    assert git("rev-parse", "HEAD", "main", "origin/main", cwd=workspace).split() == [newer] * 3
    assert git("status", "--porcelain", cwd=workspace) == ""
    assert (workspace / ".git" / CLEAN_MARKER).read_bytes() == b"1"


async def test_select_reads_the_fetched_base_and_leaves_the_task_branch_checked_out(
    service: Service, remote: Path
) -> None:
    from tests.helpers.calc_repo import TASKS
    from tests.helpers.gitrepo import commit_files, git

    first_done = TASKS.replace("(calc/ops.py).\n", "(calc/ops.py). ✅\n", 1)
    assert first_done != TASKS
    async with service.client() as client:
        prep = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
        workspace = Path(prep.json()["repoPath"])
        branch = prep.json()["branch"]
        newer = commit_files(remote, {"docs/DevTeam/tasks_list.md": first_done}, "1.1.1 done")
        nxt = await client.get("/tasks/next", params={"repoUrl": str(remote)})
    assert nxt.status_code == 200, nxt.text
    assert nxt.json()["task"]["id"] == "1.1.2"  # the list of the fetched base
    # the fetch moved the base; the task branch is still the one checked out, and clean
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=workspace) == branch
    assert git("rev-parse", "main", "origin/main", cwd=workspace).split() == [newer] * 2
    assert git("status", "--porcelain", cwd=workspace) == ""
