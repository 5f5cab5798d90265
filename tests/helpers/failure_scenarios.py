"""Real aider and real git failing in known ways, for ``tests/fixtures/failures/``.

Each :class:`Scenario` names a failure (a model API answering 429, a git server refusing the
token...) and the code and kind :func:`runner.failures.classify` must give what the tool
prints then. :func:`capture` runs the scenario with the real program, the way the runner runs
it (aider through :class:`~runner.tools.AiderTool`, git through :func:`runner.git.run_git`),
and returns its output with the run's ports and temporary paths replaced by ``<port>`` and
``<tmp>``. ``tests/fixtures/failures/record.py`` stores those outputs as the recordings;
``tests/test_failures.py`` classifies the recordings and runs a few scenarios live.

Nothing here needs the internet: the model API is :class:`~tests.helpers.fake_llm.FakeLLM`,
the remotes are :class:`~tests.helpers.git_server.GitHttpServer`, a stalled listener, a closed
port and missing paths, all on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Literal

import attrs
import trio

from runner.config import Settings
from runner.failures import Kind, Source
from runner.git import GitAuth, run_git, validate_repo_url
from runner.tools import AiderTool, ToolRequest
from tests.helpers.fake_llm import MODEL, FakeLLM, model_metadata
from tests.helpers.git_server import GitHttpServer, serve_stalled
from tests.helpers.gitrepo import commit_files, git, make_remote

__all__ = ["FIXTURES", "SCENARIOS", "Scenario", "capture", "normalise"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "failures"
"""Where the recordings live, one ``<scenario name>.txt`` each."""

API_KEY = "sk-fake-failures-0123456789abcdef"
TOKEN = "tok-failures-right-0123456789"
WRONG = "tok-failures-wrong-0000000000"
USER = "deploy-bot"
AIDER_LIMIT_S = 90.0
"""Hard bound on one aider run (a retried 5xx: two aider retries, each with litellm's own)."""

Target = Literal["llm", "closed", "stalled", "git_ok", "git_wrong_token", "git_no_token",
                 "git_missing", "git_local_missing", "git_status", "git_hang_up"]  # fmt: skip


@attrs.frozen
class Scenario:
    """One way to fail: where the tool talks to, what it is answered, what it must classify to.

    Attributes:
        name: The recording's file name without ``.txt``.
        source: ``tool`` (aider) or ``git``.
        code: The code :func:`runner.failures.classify` must return.
        kind: ``transient`` or ``permanent``.
        target: The remote's behaviour (see :func:`capture`).
        status: The HTTP status the fake model API or git server answers with.
        body: The fake model API's answer body.
        command: The git command (``clone``, ``fetch``, ``ls-remote``).
    """

    name: str
    source: Source
    code: str
    kind: Kind
    target: Target
    status: int = 0
    body: bytes = b""
    command: str = "clone"


def _openai_error(message: str, kind: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


SCENARIOS = (
    Scenario("aider-429-rate-limit", "tool", "model_rate_limited", "transient", "llm", 429,
             _openai_error("Rate limit reached for requests per min. Please try again in 1s.",
                           "requests", "rate_limit_exceeded")),
    Scenario("aider-500-server-error", "tool", "model_unavailable", "transient", "llm", 500,
             _openai_error("The server had an error while processing your request.",
                           "server_error")),
    Scenario("aider-503-overloaded", "tool", "model_unavailable", "transient", "llm", 503,
             _openai_error("The engine is currently overloaded, please try again later.",
                           "server_error")),
    Scenario("aider-401-bad-key", "tool", "model_auth_failed", "permanent", "llm", 401,
             _openai_error("Incorrect API key provided: sk-fake-****cdef.",
                           "invalid_request_error", "invalid_api_key")),
    Scenario("aider-404-model-not-found", "tool", "model_not_found", "permanent", "llm", 404,
             _openai_error("The model `fake-coder` does not exist or you do not have access "
                           "to it.", "invalid_request_error", "model_not_found")),
    Scenario("aider-connection-refused", "tool", "model_unavailable", "transient", "closed"),
    Scenario("aider-timeout", "tool", "model_unavailable", "transient", "stalled"),
    Scenario("git-clone-wrong-token", "git", "git_auth_failed", "permanent", "git_wrong_token"),
    Scenario("git-ls-remote-no-token", "git", "git_auth_failed", "permanent", "git_no_token",
             command="ls-remote"),
    Scenario("git-clone-missing-repo", "git", "repo_not_found", "permanent", "git_missing"),
    Scenario("git-ls-remote-missing-local-path", "git", "repo_not_found", "permanent",
             "git_local_missing", command="ls-remote"),
    Scenario("git-fetch-500", "git", "git_remote_unavailable", "transient", "git_status", 500,
             command="fetch"),
    Scenario("git-clone-503", "git", "git_remote_unavailable", "transient", "git_status", 503),
    Scenario("git-ls-remote-connection-refused", "git", "git_remote_unavailable", "transient",
             "closed", command="ls-remote"),
    Scenario("git-clone-connection-refused", "git", "git_remote_unavailable", "transient",
             "closed"),
    Scenario("git-ls-remote-stalled-timeout", "git", "git_remote_unavailable", "transient",
             "stalled", command="ls-remote"),
    Scenario("git-clone-early-eof", "git", "git_remote_unavailable", "transient", "git_hang_up"),
    Scenario("git-fetch-early-eof", "git", "git_remote_unavailable", "transient", "git_hang_up",
             command="fetch"),
)  # fmt: skip
"""Every recorded scenario."""


def normalise(text: str, tmp: Path, ports: tuple[int, ...]) -> str:
    """Replace the run's temporary directory and ports so a recording is stable."""
    text = text.replace(str(tmp.resolve()), "<tmp>").replace(str(tmp), "<tmp>")
    for port in ports:
        text = re.sub(rf"(?<=[:\s]){port}\b", "<port>", text)
    return text


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def capture(scenario: Scenario, tmp: Path) -> str:
    """Run ``scenario`` with the real tool in ``tmp``; return its normalised output."""
    async with trio.open_nursery() as nursery:
        if scenario.source == "tool":
            text, ports = await _capture_aider(scenario, tmp, nursery)
        else:
            text, ports = await _capture_git(scenario, tmp, nursery)
        nursery.cancel_scope.cancel()
    return normalise(text, tmp, ports)


# -- aider ---------------------------------------------------------------------------------


def aider_path() -> Path:
    """The aider CLI: ``AIDER_TEST_PATH``, else ``.venv-aider`` beside the project."""
    default = Path(__file__).resolve().parents[2] / ".venv-aider" / "bin" / "aider"
    return Path(os.environ.get("AIDER_TEST_PATH") or default)


async def _capture_aider(
    scenario: Scenario, tmp: Path, nursery: trio.Nursery
) -> tuple[str, tuple[int, ...]]:
    if scenario.target == "llm":
        llm = FakeLLM(respond=FakeLLM.status_reply(scenario.status, scenario.body))
        port = await nursery.start(llm.serve)
    elif scenario.target == "stalled":
        port = await nursery.start(serve_stalled)
    else:
        port = closed_port()
    metadata = tmp / "model-metadata.json"
    metadata.write_text(json.dumps(model_metadata()))
    settings = Settings(
        aider_path=str(aider_path()),
        aider_model=MODEL,
        aider_args=("--openai-api-base", f"http://127.0.0.1:{port}/v1",
                    "--model-metadata-file", str(metadata), "--timeout", "1"),
        model_env={"OPENAI_API_KEY": API_KEY},
        tool_timeout_s=AIDER_LIMIT_S,
        tool_retry_limit=1,
    )  # fmt: skip
    repo = tmp / "repo"
    git("clone", "--quiet", str(make_remote(tmp / "app.git", {"app.py": "x = 1\n"})), str(repo))
    request = ToolRequest(
        task_id="1.1.1",
        title="Set x",
        description="Set x to 2 in app.py",
        files=("app.py",),
        requirements=(),
        repo=repo,
        customer_id="rec",
    )
    lines: list[str] = []
    home = tmp / "home"
    home.mkdir()
    with trio.fail_after(AIDER_LIMIT_S + 10):
        await AiderTool(settings=settings, home=home).run(
            request, on_line=lambda _stream, line: lines.append(line)
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines), (port,)


# -- git -----------------------------------------------------------------------------------


def _git_args(scenario: Scenario, url: str, tmp: Path) -> tuple[list[str], Path | None]:
    if scenario.command == "ls-remote":
        # curl gives up on a remote that sends nothing for a second (the stalled one)
        slow = ["-c", "http.lowSpeedLimit=1", "-c", "http.lowSpeedTime=1"]
        return [*slow, "ls-remote", "--", url], None
    if scenario.command == "fetch":
        return ["fetch", "--quiet", "--prune", "origin"], tmp / "clone"
    return ["clone", "--quiet", "--origin", "origin", "--", url, str(tmp / "fresh")], None


async def _capture_git(
    scenario: Scenario, tmp: Path, nursery: trio.Nursery
) -> tuple[str, tuple[int, ...]]:
    make_remote(tmp / "srv" / "app.git", {"README.md": "hello\n"})
    auth = GitAuth.create(tmp / "state", username=USER, token=TOKEN, allow_local=True)
    with GitHttpServer(tmp / "srv", username=USER, token=TOKEN) as server:
        url, port = server.url("app.git"), server.port
        if scenario.target == "git_wrong_token":
            auth = GitAuth.create(tmp / "wrong", username=USER, token=WRONG)
        elif scenario.target == "git_no_token":
            auth = GitAuth.create(tmp / "none")
        elif scenario.target == "git_missing":
            url = server.url("missing.git")
        elif scenario.target == "git_local_missing":
            url = str(tmp / "srv" / "missing.git")
        elif scenario.target == "closed":
            port = closed_port()
            url = f"http://127.0.0.1:{port}/app.git"
        elif scenario.target == "stalled":
            port = await nursery.start(serve_stalled)
            url = f"http://127.0.0.1:{port}/app.git"
        args, cwd = _git_args(scenario, url, tmp)
        repo = validate_repo_url(url, allow_local=True)
        with trio.fail_after(30):
            if cwd is not None:  # fetch: a clone made while the server was still well
                result = await run_git(["clone", "--quiet", "--", url, str(cwd)], auth, repo=repo)
                assert result.ok, result.stderr
                commit_files(tmp / "srv" / "app.git", {"NEWS.md": "more\n"})  # to fetch
            server.fail_with = scenario.status or None
            server.hang_up = scenario.target == "git_hang_up"
            result = await run_git(args, auth, cwd=cwd, repo=repo)
    assert not result.ok, f"{scenario.name}: git succeeded"
    return auth.redactor(result.stderr), (port, server.port)
