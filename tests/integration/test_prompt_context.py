"""What the model is told: the dependencies' outcomes and the repo's conventions, read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
from trio_websocket import open_websocket_url

from tests.helpers.calc_repo import FILES
from tests.helpers.gitrepo import make_remote
from tests.helpers.ws import frames_until, status_is

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.service import Service

CONFIG = '[implement]\nread = ["docs/STYLE.md"]\n'


async def _run(service: Service, remote: Path) -> dict[str, Any]:
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    async with service.client() as client:
        body = {"repoUrl": str(remote), "tool": "command"}
        assert (await client.put("/customers/acme", json=body)).status_code == 200
        with trio.fail_after(120):
            async with open_websocket_url(url) as ws:
                run_id = (await client.post("/customers/acme/run", json={})).json()["runId"]
                await frames_until(ws, status_is("DONE", "FAILED"))
        run: dict[str, Any] = (await client.get(f"/customers/acme/runs/{run_id}")).json()
    return run


async def test_the_prompt_names_what_the_dependencies_changed_and_the_read_only_files(
    service: Service, tmp_path: Path
) -> None:
    files = {**FILES, ".devteam.toml": CONFIG, "docs/STYLE.md": "Use type hints.\n"}
    remote = make_remote(tmp_path / "calc.git", files)
    run = await _run(service, remote)
    assert run["status"] == "DONE", run["error"]
    (implement,) = [s for t in run["tasks"] if t["taskId"] == "1.1.2" for s in t["stages"]
                    if s["stage"] == "implement"]  # fmt: skip
    prompt = implement["result"]["prompt"]
    assert "Done before this task (its dependencies):\n- 1.1.1 Add sub function" in prompt
    assert "done; changed calc/ops.py, docs/DevTeam/task_outcomes.md, tests/test_ops.py" in prompt
    assert "Follow the project's conventions in:\n- docs/STYLE.md" in prompt


async def test_a_read_only_path_out_of_the_repo_is_refused(
    service: Service, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path / "calc.git", {**FILES, ".devteam.toml": CONFIG.replace(
        "docs/STYLE.md", "../../etc/passwd")})  # fmt: skip
    run = await _run(service, remote)
    error = run["error"]
    assert (run["status"], error["stage"], error["code"]) == (
        "FAILED",
        "implement",
        "invalid_input",
    )
    assert "implement.read" in error["message"] or error["details"]["items"][0]["field"].startswith(
        "implement.read"
    )
