from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from runner.config import ResourceLimits, Settings
from runner.errors import InvalidInputError, ToolError
from runner.tools import CommandTool, ToolRequest, build_prompt, make_tool
from tests.tools.conftest import make_repo, wait_gone

if TYPE_CHECKING:
    from pathlib import Path

SECRET_KEY = "sk-test-0123456789abcdefXYZ"
GIT_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def _request(repo: Path) -> ToolRequest:
    return ToolRequest(
        task_id="1.1.1",
        title="Add flag",
        description="Add DEVTEAM_ENABLED flag to src/config.js with default false",
        files=("src/config.js", "docs/notes.md"),
        requirements=("criterion 1: flag defaults to false",),
        repo=repo,
        customer_id="cust-a",
    )


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "tool.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


async def test_command_tool_gets_task_in_env_with_allowlist(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_TOKEN", GIT_TOKEN)
    monkeypatch.setenv("SERVICE_ONLY_VAR", "leak")
    repo = await make_repo(tmp_path / "repo", {"src/config.js": "x\n"})
    script = _script(
        tmp_path,
        'env\necho "cwd=$(pwd)"\necho "limit=$(ulimit -n)"\n'
        'echo "file=$(cat "$DEVTEAM_TASK_PROMPT_FILE" | head -1)"\n',
    )
    settings = Settings(
        tool_command=(script,),
        model_env={"OPENAI_API_KEY": SECRET_KEY},
        git_token=GIT_TOKEN,
        limits=ResourceLimits(open_files=123),
    )
    run = await make_tool("command", settings, home=home).run(_request(repo))
    assert run.returncode == 0
    out = run.stdout
    assert f"HOME={home}" in out
    assert "DEVTEAM_TASK_ID=1.1.1" in out
    assert "DEVTEAM_TASK_TITLE=Add flag" in out
    assert "DEVTEAM_TASK_FILES=src/config.js\ndocs/notes.md" in out
    assert "DEVTEAM_TASK_PROMPT=Task 1.1.1: Add flag" in out
    assert "file=Task 1.1.1: Add flag" in out
    assert f"cwd={repo}" in out
    assert "limit=123" in out
    assert "OPENAI_API_KEY=***" in out  # passed, but redacted in the record
    assert SECRET_KEY not in out
    assert "GIT_TOKEN" not in out
    assert "SERVICE_ONLY_VAR" not in out
    assert not list((home / ".devteam-runner").glob("prompt-*"))  # prompt file cleaned up


async def test_command_tool_redacts_its_record_and_streams_lines_as_printed(
    tmp_path: Path, home: Path
) -> None:
    repo = await make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    script = _script(tmp_path, f'echo "key {SECRET_KEY}"\necho "token $1" >&2\nexit 7\n')
    settings = Settings(tool_command=(script, GIT_TOKEN), model_env={"OPENAI_API_KEY": SECRET_KEY})
    lines: list[tuple[str, str]] = []
    run = await CommandTool(settings=settings, home=home).run(
        _request(repo), on_line=lambda stream, line: lines.append((stream, line))
    )
    assert run.returncode == 7
    assert run.stdout == "key ***\n"
    assert run.stderr == "token ***\n"
    assert run.argv == (script, "***")
    # The live lines go to the journal, which redacts each line it publishes, once.
    assert sorted(lines) == [("stderr", f"token {GIT_TOKEN}"), ("stdout", f"key {SECRET_KEY}")]
    assert run.tokens is None
    assert run.cost is None


async def test_command_tool_streams_lines_while_it_runs(tmp_path: Path, home: Path) -> None:
    repo = await make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    gate = tmp_path / "gate"
    # the tool prints a line, then works until the test has seen that line
    body = f"echo thinking\nwhile [ ! -f {gate} ]; do sleep 0.01; done\necho done\n"
    script = _script(tmp_path, body)
    lines: list[str] = []

    def on_line(_stream: str, line: str) -> None:
        lines.append(line)
        gate.touch()

    with trio.fail_after(15):
        run = await CommandTool(settings=Settings(tool_command=(script,)), home=home).run(
            _request(repo), on_line=on_line
        )
    assert run.returncode == 0
    assert lines == ["thinking", "done"]


async def test_command_tool_timeout_kills_the_whole_group(tmp_path: Path, home: Path) -> None:
    repo = await make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    pidfile = tmp_path / "child.pid"
    script = _script(tmp_path, f"sleep 300 &\necho $! > {pidfile}\necho started\nwait\n")
    settings = Settings(tool_command=(script,), tool_timeout_s=0.5)
    with trio.fail_after(15), pytest.raises(ToolError) as info:
        await make_tool("command", settings, home=home).run(_request(repo))
    assert info.value.code == "tool_timeout"
    assert "started" in info.value.extra["stdout"]
    assert await wait_gone(int(pidfile.read_text()))


async def test_command_tool_missing_program_is_tool_not_found(tmp_path: Path, home: Path) -> None:
    repo = await make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    for program in ("/nonexistent/agent", "devteam-no-such-agent"):
        settings = Settings(tool_command=(program,))
        with pytest.raises(ToolError) as info:
            await make_tool("command", settings, home=home).run(_request(repo))
        assert info.value.code == "tool_not_found"


async def test_aider_missing_binary_is_tool_not_found(tmp_path: Path, home: Path) -> None:
    repo = await make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    settings = Settings(aider_path=str(tmp_path / "no-aider"))
    with pytest.raises(ToolError) as info:
        await make_tool("aider", settings, home=home).run(_request(repo))
    assert info.value.code == "tool_not_found"
    assert not (repo / ".env").exists()


def test_make_tool_rejects_unknown_and_unconfigured(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        make_tool("cursor", Settings(), home=tmp_path)
    assert info.value.field == "tool"
    with pytest.raises(InvalidInputError):
        make_tool("command", Settings(), home=tmp_path)
    assert make_tool("aider", Settings(), home=tmp_path).name == "aider"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../outside.py", "a/../../b", "--read=x", ""])
def test_tool_request_rejects_paths_outside_the_repo(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ToolRequest(
            task_id="1",
            title="t",
            description="d",
            files=(bad,),
            requirements=(),
            repo=tmp_path,
            customer_id="c",
        )
    assert info.value.field == "files"


def test_build_prompt_holds_description_requirements_and_files(tmp_path: Path) -> None:
    prompt = build_prompt(_request(tmp_path))
    assert "Add DEVTEAM_ENABLED flag to src/config.js with default false" in prompt
    assert "- criterion 1: flag defaults to false" in prompt
    assert "Files:\n- src/config.js\n- docs/notes.md" in prompt
