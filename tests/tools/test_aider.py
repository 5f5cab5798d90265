"""The aider adapter, mostly against the real aider CLI and a fake OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from runner.config import Settings
from runner.tools import AiderTool, ToolRequest, ToolRun, make_tool, parse_usage
from tests.helpers.fake_llm import MODEL, FakeLLM, model_metadata
from tests.tools.conftest import git, make_repo

AIDER = os.environ.get("AIDER_TEST_PATH") or str(
    Path(__file__).resolve().parents[2] / ".venv-aider" / "bin" / "aider"
)
needs_aider = pytest.mark.skipif(
    not os.access(AIDER, os.X_OK),
    reason=f"the aider CLI is not at {AIDER}; run `make aider` or set AIDER_TEST_PATH",
)
API_KEY = "sk-fake-0123456789abcdefghij"
RUN_LIMIT_S = 60  # hard bound on one real aider run (it takes ~4 s here)
ORIGINAL = "def flag():\n    return True\n"


@attrs.define
class Trap:
    """A listener that counts connections: the HTTP(S) proxy the tool must never use."""

    connections: int = 0
    port: int = 0

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started()

    async def _handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        await stream.aclose()


@attrs.frozen
class Env:
    """What each real-aider test needs: the server, the trap and the settings."""

    llm: FakeLLM
    trap: Trap
    settings: Settings


async def _start(nursery: trio.Nursery, tmp_path: Path, respond: Any, **overrides: Any) -> Env:
    llm, trap = FakeLLM(respond=respond), Trap()
    await nursery.start(llm.serve)
    await nursery.start(trap.serve)
    metadata = tmp_path / "model-metadata.json"
    metadata.write_text(json.dumps(model_metadata()))
    proxy = f"http://127.0.0.1:{trap.port}"
    model_env = {"OPENAI_API_KEY": API_KEY, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy}
    model_env |= {"http_proxy": proxy, "https_proxy": proxy, "NO_PROXY": "127.0.0.1"}
    settings = Settings(
        aider_path=AIDER,
        aider_model=MODEL,
        aider_args=("--openai-api-base", llm.base_url, "--model-metadata-file", str(metadata)),
        model_env=model_env,
        tool_timeout_s=RUN_LIMIT_S,
        **overrides,
    )
    return Env(llm, trap, settings)


def _request(repo: Path) -> ToolRequest:
    return ToolRequest(
        task_id="1.2.3",
        title="Make flag return False",
        description="Change flag() in src/flags.py to return False by default",
        files=("src/flags.py",),
        requirements=("criterion 1: flag() returns False",),
        repo=repo,
        customer_id="cust-a",
    )


async def _run(env: Env, repo: Path, home: Path) -> tuple[ToolRun, float]:
    started = time.monotonic()
    with trio.fail_after(RUN_LIMIT_S + 10):
        run = await make_tool("aider", env.settings, home=home).run(_request(repo))
    return run, time.monotonic() - started


def _messages_text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in request["messages"])


def test_parse_usage_sums_tokens_and_takes_session_cost() -> None:
    output = (
        "Tokens: 1.2k sent, 45 received. Cost: $0.0012 message, $0.0012 session.\n"
        "Applied edit\n"
        "Tokens: 12k sent, 1.1k cache write, 3 received. Cost: $0.01 message, $0.02 session.\n"
    )
    assert parse_usage(output) == ({"sent": 13200, "received": 48}, 0.02)
    assert parse_usage("nothing here") == (None, None)


def test_aider_argv_has_offline_flags_own_config_and_files(tmp_path: Path) -> None:
    tool = AiderTool(settings=Settings(aider_args=("--timeout", "30")), home=tmp_path)
    own = {n: tmp_path / n for n in ("aider.conf.yml", "aider.env")}
    own |= {n: tmp_path / n for n in ("aider.model.settings.yml", "aider.model.metadata.json")}
    argv = tool.argv(_request(tmp_path), own)
    for flag in ("--yes-always", "--no-check-update", "--no-analytics", "--no-auto-commits"):
        assert flag in argv
    assert argv[argv.index("--edit-format") + 1] == "diff"
    assert argv[argv.index("--config") + 1] == str(tmp_path / "aider.conf.yml")
    assert argv.index("--timeout") > argv.index("--model-metadata-file")  # operator flags win
    assert argv[-1] == "--file=src/flags.py"
    assert argv[-2].startswith("--message=Task 1.2.3")


@pytest.mark.aider
@needs_aider
async def test_aider_edit_lands_and_prompt_reaches_llm(
    tmp_path: Path, home: Path, nursery: trio.Nursery
) -> None:
    env = await _start(
        nursery, tmp_path, FakeLLM.edit_reply("src/flags.py", "    return True", "    return False")
    )
    repo = await make_repo(tmp_path / "repo", {"src/flags.py": ORIGINAL})
    run, elapsed = await _run(env, repo, home)
    assert (repo / "src/flags.py").read_text() == "def flag():\n    return False\n"
    assert run.returncode == 0
    assert "Applied edit to src/flags.py" in run.stdout
    assert run.tokens == {"sent": 120, "received": 30}
    assert run.cost == pytest.approx(0.00018)
    assert 0 < run.duration <= elapsed
    assert (await git(repo, "log", "--oneline")).count("\n") == 1  # aider committed nothing
    assert len(env.llm.requests) == 1
    prompt = _messages_text(env.llm.requests[0])
    assert "Change flag() in src/flags.py to return False by default" in prompt
    assert "criterion 1: flag() returns False" in prompt
    assert "- src/flags.py" in prompt
    assert env.llm.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert env.trap.connections == 0  # no HTTP(S) beyond the fake server
    assert API_KEY not in run.stdout + run.stderr + " ".join(run.argv)


@pytest.mark.aider
@needs_aider
async def test_aider_ignores_the_repos_own_config_env_and_model_files(
    tmp_path: Path, home: Path, nursery: trio.Nursery
) -> None:
    env = await _start(
        nursery, tmp_path, FakeLLM.edit_reply("src/flags.py", "    return True", "    return False")
    )
    planted = {
        # each of these changes the run observably when aider obeys it
        ".aider.conf.yml": "read: [secret.txt]\nedit-format: whole\n",
        ".env": "OPENAI_API_KEY=sk-from-the-repo-dotenv-000000\nAIDER_READ=secret.txt\n",
        ".aider.model.settings.yml": f"- name: {MODEL}\n  extra_params:\n    max_tokens: 7\n",
        ".aider.model.metadata.json": json.dumps(model_metadata(input_cost=1.0, output_cost=1.0)),
        "secret.txt": "REPO-CONFIG-MARKER\n",
    }
    repo = await make_repo(tmp_path / "repo", {"src/flags.py": ORIGINAL, **planted})
    run, _elapsed = await _run(env, repo, home)
    assert (repo / "src/flags.py").read_text() == "def flag():\n    return False\n"
    request = env.llm.requests[0]
    assert "REPO-CONFIG-MARKER" not in _messages_text(request)  # read: not obeyed
    assert "max_tokens" not in request  # model settings not obeyed
    assert env.llm.headers[0]["authorization"] == f"Bearer {API_KEY}"  # .env not obeyed
    assert "with diff edit format" in run.stdout  # .aider.conf.yml edit-format not obeyed
    assert run.cost == pytest.approx(0.00018)  # model metadata not obeyed
    for name, content in planted.items():
        assert (repo / name).read_text() == content  # put back byte for byte
    status = await git(repo, "status", "--porcelain")
    assert status.strip() == "M src/flags.py"


@pytest.mark.aider
@needs_aider
async def test_aider_llm_error_returns_fast_with_no_change(
    tmp_path: Path, home: Path, nursery: trio.Nursery
) -> None:
    body = b'{"error": {"message": "model overloaded: bad request", "type": "invalid_request"}}'
    env = await _start(nursery, tmp_path, FakeLLM.status_reply(400, body))
    repo = await make_repo(tmp_path / "repo", {"src/flags.py": ORIGINAL})
    run, elapsed = await _run(env, repo, home)
    assert elapsed < 40  # generous: aider alone starts in 2-20 s on a loaded 2-core box
    assert (repo / "src/flags.py").read_text() == ORIGINAL
    assert await git(repo, "status", "--porcelain") == ""
    assert "BadRequestError" in run.stdout + run.stderr
    assert "bad request" in run.stdout + run.stderr
    assert run.tokens is None
    assert run.failure is not None
    assert (run.failure.code, run.failure.kind) == ("model_request_failed", "permanent")
    assert run.failure.line.startswith("litellm.BadRequestError")


@pytest.mark.aider
@needs_aider
async def test_aider_garbage_reply_is_stopped_after_retry_limit(
    tmp_path: Path, home: Path, nursery: trio.Nursery
) -> None:
    # A 200 that is not JSON is "retryable" for aider: ~60 s of backoff without the limit.
    env = await _start(
        nursery, tmp_path, FakeLLM.status_reply(200, b"<html>garbage</html>"), tool_retry_limit=1
    )
    repo = await make_repo(tmp_path / "repo", {"src/flags.py": ORIGINAL})
    run, elapsed = await _run(env, repo, home)
    assert elapsed < 40  # generous: aider alone starts in 2-20 s on a loaded 2-core box
    assert run.returncode != 0
    assert "Retrying in" in run.stdout
    assert "TOOL_RETRY_LIMIT=1" in run.stderr
    assert run.failure is not None
    assert (run.failure.code, run.failure.kind) == ("model_unavailable", "transient")
    assert len(env.llm.requests) <= 3  # litellm's own retry plus aider's
    assert (repo / "src/flags.py").read_text() == ORIGINAL
    assert await git(repo, "status", "--porcelain") == ""


@pytest.mark.aider
@needs_aider
async def test_aider_reply_without_edit_changes_nothing(
    tmp_path: Path, home: Path, nursery: trio.Nursery
) -> None:
    env = await _start(nursery, tmp_path, FakeLLM.text_reply("I am not sure what to change."))
    repo = await make_repo(tmp_path / "repo", {"src/flags.py": ORIGINAL})
    run, _elapsed = await _run(env, repo, home)
    assert run.returncode == 0  # aider reports success; the runner decides by the diff
    assert "I am not sure what to change." in run.stdout
    assert run.failure is None
    assert await git(repo, "status", "--porcelain") == ""
