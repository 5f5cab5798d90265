"""Paths from outside (tasksFile, doc.updated) stay inside the repo, at registration and use."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING

from runner.store import CustomerRecord
from tests.helpers.calc_repo import TASKS
from tests.helpers.gitrepo import git

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.service import Service


def commit_symlink(bare: Path, path: str, target: str) -> None:
    """Commit ``path`` as a symlink to ``target`` on top of ``main`` in a bare repo."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": f"{tmp}/index"}
        git("read-tree", "main", cwd=bare, env=env)
        blob = git("hash-object", "-w", "--stdin", cwd=bare, stdin=target)
        git("update-index", "--add", "--cacheinfo", f"120000,{blob},{path}", cwd=bare, env=env)
        tree = git("write-tree", cwd=bare, env=env)
    sha = git("commit-tree", tree, "-p", "main", "-m", f"link {path}", cwd=bare)
    git("update-ref", "refs/heads/main", sha, cwd=bare)


async def test_tasks_file_out_of_the_repo_is_400_at_registration(
    service: Service, remote: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text(TASKS)
    async with service.client() as client:
        answers = [
            await client.put("/customers/acme", json={"repoUrl": str(remote), "tasksFile": raw})
            for raw in (str(outside), "../../../elsewhere.md")
        ]
        listed = await client.get("/customers")
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["details"][0]["field"] == "tasksFile"
    assert listed.json()["customers"] == []


async def test_tasks_file_is_checked_again_at_use(
    service: Service, remote: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text(TASKS)
    now = service.services.timestamp()
    record = CustomerRecord("acme", str(remote), "main", str(outside), "command", False, {},
                            now, now)  # fmt: skip
    await service.services.store.customers.upsert(record)  # e.g. written by an older runner
    async with service.client() as client:
        response = await client.get("/tasks/next", params={"customerId": "acme"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["field"] == "tasksFile"


async def test_symlinked_task_list_out_of_the_repo_is_refused(
    service: Service, remote: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text(TASKS.replace("Add sub function", "Read from outside"))
    commit_symlink(remote, "docs/DevTeam/tasks_list.md", str(outside))
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": str(remote)})
        response = await client.get("/tasks/next", params={"customerId": "acme"})
    assert "Read from outside" not in response.text
    assert response.status_code == 400, response.text


async def test_doc_updated_symlink_out_of_the_repo_is_never_handed_to_the_tool(
    service: Service, remote: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outcomes-elsewhere.md"
    outside.write_text("# not the repo's\n")
    commit_symlink(remote, "docs/DevTeam/task_outcomes.md", str(outside))
    async with service.client() as client:
        criteria = {"doc.updated": "task_outcomes.md"}
        body = {"repoUrl": str(remote), "tool": "command", "defaultCriteria": criteria}
        await client.put("/customers/acme", json=body)
        prep = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
        assert prep.status_code == 200, prep.text
        implement = await client.post(
            "/implement", json={"taskId": "1.1.1", "branch": prep.json()["branch"]}
        )
    assert implement.status_code == 400, implement.text
    assert implement.json()["error"]["details"][0]["field"].startswith("criteria.doc.updated")
    assert outside.read_text() == "# not the repo's\n"
