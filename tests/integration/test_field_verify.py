"""The real-repository case through the service: a JS app (jest + babel, drifting lock file,
an install script that would download a browser, a test already red on the base) prepared,
implemented and verified over HTTP, as a new user would with the default settings."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
import trio

from runner.pipeline import PipelineStages
from tests.helpers.field_repos import build_remote
from tests.helpers.service import running_service, service_settings

if TYPE_CHECKING:
    from pathlib import Path

# The "coding tool": takes the good branch's files, as a model that got it right would.
TOOL = ("sh", "-c", "git checkout origin/task/good -- src/sub.js tests/sub.test.js")


@pytest.mark.node
async def test_js_app_verifies_with_default_settings(tmp_path: Path) -> None:
    remote = build_remote(tmp_path, "js")
    settings = service_settings(
        tmp_path, tool_command=TOOL, python_path=sys.executable, verify_timeout_s=300.0
    )
    with trio.fail_after(300):
        # VERIFY installs the app's packages twice (branch and base): minutes on a busy machine
        async with (
            running_service(settings, PipelineStages()) as svc,
            svc.client(timeout=280) as client,
        ):
            prep = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
            assert prep.status_code == 200, prep.text
            branch = prep.json()["branch"]
            implement = await client.post(
                "/implement", json={"taskId": "1.1.1", "branch": branch, "tool": "command"}
            )
            assert implement.status_code == 200, implement.text
            assert implement.json()["artifacts"]["filesModified"] == [
                "src/sub.js", "tests/sub.test.js"
            ]  # fmt: skip
            verify = await client.post("/verify", json={"taskId": "1.1.1", "branch": branch})
            assert verify.status_code == 200, verify.text
            body = verify.json()
            assert body["notes"][0].startswith("package-lock.json is out of sync")
            tests = body["results"]["tests.pass"]
            assert tests["details"]["preExisting"] == ["tests/legacy.test.js > legacy rounding"]
            assert body["results"]["test.coverage"]["actual"] == "100%"
            assert body["results"]["type.strict"]["actual"] == "not applicable"
            assert "npm error" in body["artifacts"]["setupOutput"]
