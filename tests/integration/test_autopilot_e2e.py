"""The autopilot with real git, the scripted tool and real gates, watched over WebSocket."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import trio
from trio_websocket import open_websocket_url

from tests.helpers.calc_repo import make_calc_remote
from tests.helpers.gitrepo import git
from tests.helpers.ws import frames_until, status_is, statuses

if TYPE_CHECKING:
    import pytest

    from tests.helpers.service import Service


async def _register(service: Service, remote: Path, **fields: object) -> None:
    async with service.client() as client:
        response = await client.put(
            "/customers/acme", json={"repoUrl": str(remote), "tool": "command", **fields}
        )
        assert response.status_code == 200, response.text


def _workspace(service: Service) -> Path:
    (path,) = [p for p in (service.settings.workspace_dir / "acme").iterdir() if p.is_dir()]
    return path


async def _run_until(service: Service, *final: str, body: dict[str, object] | None = None) -> list:
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    async with open_websocket_url(url) as ws, service.client() as client:
        response = await client.post("/customers/acme/run", json=body or {})
        assert response.status_code == 202, response.text
        return await frames_until(ws, status_is(*final))


async def test_three_tasks_run_to_done_and_merge_into_base(service: Service, remote: Path) -> None:
    await _register(service, remote, push=True)
    frames = await _run_until(service, "DONE", "FAILED")
    assert frames[-1]["status"] == "DONE", frames[-1]
    assert statuses(frames) == [
        *["SELECTING", "PREPARING", "IMPLEMENTING", "VERIFYING", "COMPLETING"] * 3,
        "SELECTING",
        "DONE",
    ]
    tasks = git("show", "main:docs/DevTeam/tasks_list.md", cwd=remote)
    for line in ("1.1.1 Add sub", "1.1.2 Add mul", "1.1.3 Add div", "1.1.A", "1.1.B", "1.1.C"):
        (marked,) = [x for x in tasks.splitlines() if x.startswith(line)]
        assert marked.endswith("✅"), marked
    outcomes = git("show", "main:docs/DevTeam/task_outcomes.md", cwd=remote)
    assert "### 1.1 Operations" in outcomes
    for bullet in ("Outputs Summary", "Validation Evidence", "Verification Notes",
                   "Artifacts/Links", "Executor", "Timestamp"):  # fmt: skip
        assert f"- **{bullet}**:" in outcomes
    merges = git("log", "--merges", "--format=%s", "main", cwd=remote).splitlines()
    assert merges == [
        "Merge task/1-1-3-add-div-function: Task 1.1.3: Add div function to calc/ops.py",
        "Merge task/1-1-2-add-mul-function: Task 1.1.2: Add mul function to calc/ops.py",
        "Merge task/1-1-1-add-sub-function: Task 1.1.1: Add sub function to calc/ops.py",
    ]
    ops = git("show", "main:calc/ops.py", cwd=remote)
    assert all(f"def {name}(" in ops for name in ("sub", "mul", "div"))
    logs = " ".join(f.get("message", "") for f in frames if f["type"] == "execution-log")
    assert "ghp_" not in logs


def _git_command(argv: list[str]) -> str:
    """The git command of ``argv``, after any ``-c name=value`` settings."""
    while argv[0] == "-c":
        argv = argv[2:]
    return argv[0]


async def test_each_task_fetches_once_and_reads_its_task_list_once(
    service: Service, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every git the service starts goes through a logging shim first on PATH
    shim, log = tmp_path / "shim", tmp_path / "git.log"
    shim.mkdir()
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {shutil.which("git")} "$@"\n')
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    await _register(service, remote, push=True)
    frames = await _run_until(service, "DONE", "FAILED")
    assert frames[-1]["status"] == "DONE", frames[-1]
    commands = [_git_command(line.split()) for line in log.read_text().splitlines()]
    # SELECT clones first, then fetches before each later task and the last SELECT; the PREP
    # right after a SELECT does not fetch again
    assert commands.count("clone") == 1
    assert commands.count("fetch") == 3
    # the task list is read from the checked-out base or the memo, never once per stage
    assert commands.count("cat-file") <= 3
    assert commands.count("push") == 3


async def test_stop_on_error_leaves_later_tasks_untouched(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    (tool_dir / "break-1.1.2").write_text("")
    await _register(service, remote)
    frames = await _run_until(service, "DONE", "FAILED")
    error = frames[-1]["error"]
    assert (error["stage"], error["code"]) == ("verify", "criteria_not_met")
    workspace = _workspace(service)
    branches = git("branch", "--format=%(refname:short)", cwd=workspace).split()
    assert "task/1-1-3-add-div-function" not in branches
    tasks = (workspace / "docs/DevTeam/tasks_list.md").read_text()
    assert not any(x.endswith("✅") for x in tasks.splitlines() if x.startswith("1.1.2"))
    async with service.client() as client:
        state = (await client.get("/customers/acme")).json()["state"]
    assert state["status"] == "FAILED"
    assert state["currentTask"] == "1.1.2"
    assert state["completedTasks"] == 1


async def test_stop_kills_a_hanging_tool_and_leaves_the_workspace_clean(
    service: Service, remote: Path, tool_dir: Path
) -> None:
    (tool_dir / "hang-1.1.1").write_text("")
    await _register(service, remote)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    async with open_websocket_url(url) as ws, service.client() as client:
        await client.post("/customers/acme/run")
        await frames_until(ws, status_is("IMPLEMENTING"))
        pid_file = tool_dir / "pid-1.1.1"
        with trio.fail_after(30):
            while not pid_file.exists():  # noqa: ASYNC110 - another process writes it
                await trio.sleep(0.05)
        pid = int(pid_file.read_text())
        started = trio.current_time()
        stop = await client.post("/customers/acme/stop")
        assert stop.status_code == 200
        await frames_until(ws, status_is("STOPPED"))
        assert trio.current_time() - started < 5
    assert not _alive(pid)
    workspace = _workspace(service)
    status = await trio.run_process(
        ["git", "status", "--porcelain"], cwd=workspace, capture_stdout=True
    )
    assert status.stdout == b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


async def test_twenty_customers_with_real_remotes_run_to_done(
    service: Service, tmp_path: Path
) -> None:
    customers = [f"cust-{i:02d}" for i in range(20)]
    async with service.client() as client:
        for customer in customers:
            remote = make_calc_remote(tmp_path / customer)
            response = await client.put(f"/customers/{customer}", json={
                "repoUrl": str(remote), "tool": "command",
                "defaultCriteria": {"doc.updated": "task_outcomes.md"},
            })  # fmt: skip
            assert response.status_code == 200, response.text
        done: set[str] = set()
        async with open_websocket_url(f"{service.ws_url}/ws/devteam") as ws:
            for customer in customers:
                assert (await client.post(f"/customers/{customer}/run")).status_code == 202
            while done != set(customers):
                frame = (await frames_until(ws, status_is("DONE", "FAILED")))[-1]
                assert frame["status"] == "DONE", frame
                done.add(frame["customerId"])
    for customer in customers:
        ops = git("show", "main:calc/ops.py", cwd=_customer_workspace(service, customer))
        assert "def div(" in ops


def _customer_workspace(service: Service, customer: str) -> Path:
    (path,) = [p for p in (service.settings.workspace_dir / customer).iterdir() if p.is_dir()]
    return path
