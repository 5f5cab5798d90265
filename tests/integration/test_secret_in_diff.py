"""A tool that writes a secret into the repo gets no commit and nothing pushed."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
import trio

from runner.pipeline import PipelineStages
from tests.helpers.calc_repo import make_calc_remote, make_tool
from tests.helpers.gitrepo import git
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

GIT_TOKEN = "ghp_" + "S" * 36
MODEL_KEY = "model-key-" + "q" * 24

# The calc agent, plus a "config" file with the values it found
LEAKY = """
import pathlib, runpy
here = pathlib.Path(__file__).parent
runpy.run_path(str(here / "agent.py"), run_name="__main__")
pathlib.Path("calc/config.py").write_text("# settings\\nTOKEN = '{token}'\\nKEY = '{key}'\\n")
"""


@pytest.fixture
async def leaky_service(tmp_path: Path) -> AsyncIterator[Service]:
    make_tool(tmp_path)
    script = tmp_path / "tool" / "leaky.py"
    script.write_text(LEAKY.format(token=GIT_TOKEN, key=MODEL_KEY))
    settings = service_settings(
        tmp_path,
        tool_command=(sys.executable, str(script)),
        python_path=sys.executable,
        git_token=GIT_TOKEN,
        model_env={"ANTHROPIC_API_KEY": MODEL_KEY},
    )
    with trio.fail_after(120):
        async with running_service(settings, PipelineStages()) as svc:
            yield svc


async def test_secret_written_by_the_tool_stops_the_commit(
    leaky_service: Service, tmp_path: Path
) -> None:
    remote = make_calc_remote(tmp_path)
    refs_before = git("for-each-ref", cwd=remote)
    async with leaky_service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": str(remote), "tool": "command"})
        prep = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
        implement = await client.post(
            "/implement", json={"taskId": "1.1.1", "branch": prep.json()["branch"]}
        )
        state = await client.get("/customers/acme")
    error = implement.json()["error"]
    assert error["code"] == "secret_in_diff", implement.text
    assert {"file": "calc/config.py", "line": 2} in error["details"]
    assert {"file": "calc/config.py", "line": 3} in error["details"]
    for text in (implement.text, state.text):
        assert GIT_TOKEN not in text
        assert MODEL_KEY not in text
    workspace = tmp_path / "workspace"
    log = git("log", "--all", "-p", cwd=next(workspace.glob("acme/*")))
    assert GIT_TOKEN not in log
    assert git("for-each-ref", cwd=remote) == refs_before  # nothing pushed
