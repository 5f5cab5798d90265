"""`verify()` end to end on small repositories: errors, timeouts, environment, artifacts."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio

from runner.config import ResourceLimits, Settings
from runner.errors import ConfigError, InvalidInputError, VerifyError
from runner.verify import child_environment, verify
from runner.verify.detect import node_limits
from tests.helpers.gitrepo import git

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from runner.verify import VerifyOutcome

SECRET = "s3cret-token-value-42"


def _repo(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


async def _verify(
    repo: Path,
    criteria: Mapping[str, str],
    changed: tuple[str, ...] = (),
    **settings: Any,
) -> VerifyOutcome:
    with trio.fail_after(60):
        return await verify(
            repo,
            criteria,
            changed_files=changed,
            settings=Settings(**settings),
        )


async def _verify_error(repo: Path, criteria: Mapping[str, str], **settings: Any) -> VerifyError:
    with pytest.raises(VerifyError) as info:
        await _verify(repo, criteria, **settings)
    return info.value


async def test_verify_doc_only_runs_no_process(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("# Notes\n")
    outcome = await _verify(tmp_path, {"doc.updated": "notes.md"}, ("docs/notes.md",))
    assert outcome.results_wire() == {"doc.updated": {"passed": True, "files": ["docs/notes.md"]}}
    assert outcome.passed
    assert (outcome.artifacts, outcome.process_time) == ({}, 0.0)


async def test_verify_rejects_bad_criteria_before_running(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        await _verify(tmp_path, {"tests.pass": "true", "perf.fast": "yes"})
    assert info.value.field == "criteria.perf.fast"


async def test_verify_custom_command_gets_minimal_env_and_redacted_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_TOKEN", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leaky")
    script = f'env | sort; echo "token {SECRET}"'
    repo = _repo(tmp_path, {".devteam.toml": f"[verify]\ntest = '{script}'\n"})
    outcome = await _verify(repo, {"tests.pass": "true"}, git_token=SECRET)
    assert outcome.results_wire() == {
        "tests.pass": {"passed": True, "actual": "all passed", "required": "all tests pass"}
    }
    output = outcome.artifacts["testOutput"]
    names = {line.split("=", 1)[0] for line in output.splitlines() if "=" in line}
    assert names >= {"PATH", "HOME", "LANG", "CI", "TMPDIR"}
    assert not names & {"GIT_TOKEN", "OPENAI_API_KEY"}
    assert SECRET not in output
    assert "token ***" in output
    assert outcome.process_time > 0


async def test_verify_custom_failing_command_fails_tests(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {".devteam.toml": "[verify]\ntest = 'echo boom; exit 3'\n"})
    outcome = await _verify(repo, {"tests.pass": "true"})
    assert outcome.results_wire()["tests.pass"] == {
        "passed": False,
        "actual": "test run failed (exit 3)",
        "required": "all tests pass",
        "details": {"firstErrors": [], "tail": ["boom"]},
    }
    assert not outcome.passed


async def test_verify_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    repo = _repo(tmp_path / "repo", {".devteam.toml": f"[verify]\ntest = '{script}'\n"})
    started = trio.current_time()
    error = await _verify_error(repo, {"tests.pass": "true"}, verify_timeout_s=0.5)
    assert error.code == "verify_timeout"
    assert "timed out after 0.5 s" in error.message
    assert trio.current_time() - started < 5
    child = int(pidfile.read_text())
    try:  # gone, or a zombie nobody reaped yet
        os.kill(child, 0)
        status = await trio.Path(f"/proc/{child}/status").read_text()
        assert "zombie" in status.lower()
    except ProcessLookupError:
        pass


async def test_verify_missing_python_interpreter(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n"})
    error = await _verify_error(repo, {"tests.pass": "true"}, python_path="/nonexistent/python3")
    assert (error.code, error.http_status) == ("verify_failed", 500)
    assert "Python interpreter not found" in error.message


async def test_verify_missing_coverage_module(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    with trio.fail_after(30):
        await trio.run_process([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    repo = _repo(tmp_path / "repo", {"setup.py": ""})
    python = str(venv / "bin" / "python")
    error = await _verify_error(repo, {"test.coverage": "≥80%"}, python_path=python)
    assert error.message == f"coverage is not installed for {python} (PYTHON_PATH)"
    error = await _verify_error(repo, {"type.strict": "0 errors"}, python_path=python)
    assert error.message == f"mypy is not installed for {python} (PYTHON_PATH)"


async def test_verify_missing_node_and_linter(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {"package.json": '{"scripts": {"test": "vitest run"}}', "tsconfig.json": "{}"},
    )
    (repo / "node_modules").mkdir()
    error = await _verify_error(repo, {"tests.pass": "true"}, node_path="/nonexistent/node")
    assert "node not found" in error.message
    error = await _verify_error(repo, {"lint.clean": "0 errors"})
    assert "no linter" in error.message
    error = await _verify_error(repo, {"type.strict": "0 errors"})
    assert "TypeScript is not installed" in error.message


async def test_verify_nothing_detectable(tmp_path: Path) -> None:
    error = await _verify_error(tmp_path, {"tests.pass": "true"})
    assert error.code == "verify_failed"
    assert "no test command" in error.message


async def test_verify_javascript_without_tsconfig_skips_type_strict(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"package.json": '{"scripts": {"test": "node --test"}}'})
    (repo / "node_modules").mkdir()
    outcome = await _verify(repo, {"type.strict": "0 errors"})
    assert outcome.results_wire() == {
        "type.strict": {
            "passed": True,
            "actual": "not applicable",
            "required": "0 errors",
            "details": {
                "skipped": "plain JavaScript: no tsconfig.json, and no jsconfig.json with checkJs"
            },
        }
    }


async def test_verify_setup_runs_first_and_its_failure_is_reported(tmp_path: Path) -> None:
    config = "[verify]\nsetup = 'echo ready > marker'\ntest = 'test -f marker'\n"
    repo = _repo(tmp_path / "ok", {".devteam.toml": config})
    outcome = await _verify(repo, {"tests.pass": "true"})
    assert outcome.passed
    assert "setupOutput" in outcome.artifacts
    failing = "[verify]\nsetup = 'echo missing dependency; exit 1'\ntest = 'true'\n"
    repo = _repo(tmp_path / "bad", {".devteam.toml": failing})
    error = await _verify_error(repo, {"tests.pass": "true"})
    assert error.message == "setup failed (exit 1): missing dependency"
    assert error.details == [
        {
            "command": "sh -c 'echo missing dependency; exit 1'",
            "exitCode": 1,
            "firstErrors": [],
            "tail": ["missing dependency"],
            "artifact": "setupOutput",
        }
    ]


def _coverage_writer(report: Mapping[str, object]) -> str:
    code = f"import json; json.dump({report!r}, open('cov.json', 'w'))"
    return json.dumps(["python3", "-c", code])


async def test_verify_custom_test_with_coverage_report(tmp_path: Path) -> None:
    report = {"files": {"pkg/a.py": {"summary": {"covered_lines": 7, "num_statements": 8}}}}
    config = f"[verify]\ntest = {_coverage_writer(report)}\ncoverage_report = 'cov.json'\n"
    repo = _repo(tmp_path, {".devteam.toml": config})
    outcome = await _verify(repo, {"test.coverage": "≥90%"}, ("pkg/a.py",))
    assert outcome.results_wire()["test.coverage"] == {
        "passed": False,
        "actual": "87.5%",
        "required": "≥90%",
        "details": {
            "scope": ["pkg/a.py"],
            "coveredLines": 7,
            "totalLines": 8,
            "files": [{"path": "pkg/a.py", "coveredLines": 7, "totalLines": 8, "percent": "87.5%"}],
        },
    }


async def test_verify_stale_coverage_report_is_not_read(tmp_path: Path) -> None:
    report = tmp_path / "cov.json"
    report.write_text(json.dumps({"files": {}}))
    os.utime(report, (1_000_000, 1_000_000))
    config = "[verify]\ntest = 'true'\ncoverage_report = 'cov.json'\n"
    repo = _repo(tmp_path, {".devteam.toml": config})
    error = await _verify_error(repo, {"test.coverage": "≥90%"})
    assert "produced no coverage report" in error.message


async def test_verify_artifacts_are_capped_to_the_tail(tmp_path: Path) -> None:
    command = json.dumps(["python3", "-c", "print('x' * 5000); print('END')"])
    repo = _repo(tmp_path, {".devteam.toml": f"[verify]\ntest = {command}\n"})
    outcome = await _verify(repo, {"tests.pass": "true"}, output_cap_bytes=1024)
    output = outcome.artifacts["testOutput"]
    assert output.startswith("[... output truncated; last 1 KiB follow ...]")
    assert output.endswith("END\n")


def test_child_environment_is_minimal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_TOKEN", SECRET)
    env = child_environment("/opt/py/bin:/usr/bin", tmp_path)
    assert env["PATH"] == "/opt/py/bin:/usr/bin"
    assert env["TMPDIR"] == str(tmp_path)
    assert SECRET not in env.values()
    assert set(env) == {
        "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "CI", "NO_COLOR", "FORCE_COLOR",
        "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
    }  # fmt: skip


def test_node_limits_trade_address_space_for_heap_cap() -> None:
    env: dict[str, str] = {}
    limits = node_limits(ResourceLimits(address_space_mb=2048), env)
    assert limits == attrs.evolve(ResourceLimits(), address_space_mb=0)
    assert env == {"NODE_OPTIONS": "--max-old-space-size=2048"}
    env.clear()
    node_limits(ResourceLimits(address_space_mb=0), env)
    assert env == {}


async def test_verify_env_reaches_setup_and_gates_but_secrets_never_do(tmp_path: Path) -> None:
    script = "echo setup=$APP_MODE > seen; echo test=$APP_MODE/$REGION/$GIT_TOKEN >> seen"
    config = (
        f"[verify]\nsetup = 'echo setup=$APP_MODE > seen'\ntest = 'cat seen; {script}'\n"
        "[verify.env]\nAPP_MODE = 'ci'\nDEBUG = true\n"
    )
    repo = _repo(tmp_path, {".devteam.toml": config})
    settings = Settings.from_env(
        {"VERIFY_ENV": "REGION, UNSET_NAME", "REGION": "eu-1", "GIT_TOKEN": SECRET}
    )
    assert dict(settings.verify_env) == {"REGION": "eu-1"}
    with trio.fail_after(60):
        outcome = await verify(repo, {"tests.pass": "true"}, changed_files=(), settings=settings)
    assert outcome.passed
    assert (repo / "seen").read_text() == "setup=ci\ntest=ci/eu-1/\n"


@pytest.mark.parametrize("name", ["GIT_TOKEN", "OPENAI_API_KEY", "DB_PASSWORD", "AIDER_MODEL"])
def test_verify_env_refuses_secret_names(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VERIFY_ENV": f"REGION,{name}"})
    assert info.value.variable == "VERIFY_ENV"
    assert name in info.value.message


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[verify.env]\nPATH = '/tmp'\n", "'PATH' cannot be set"),
        ("[verify.env]\nA = [1]\n", "[verify.env].A must be a string"),
        ("[verify]\nenv = 3\n", "[verify.env] must be a table"),
        ("[verify]\nstrict = 'yes'\n", "[verify].strict must be true or false"),
    ],
)
async def test_verify_config_env_and_flags_are_validated(
    tmp_path: Path, table: str, message: str
) -> None:
    repo = _repo(tmp_path, {".devteam.toml": table + "[verify]\n" * ("[verify]" not in table)})
    error = await _verify_error(repo, {"tests.pass": "true"})
    assert message in error.message


async def test_verify_strict_fails_on_a_pre_existing_failure(tmp_path: Path) -> None:
    report = "printf 'FAILED tests/test_a.py::test_old - assert 0\\n'; exit 1"
    base = _repo(tmp_path / "repo", {".devteam.toml": f'[verify]\ntest = "{report}"\n'})
    await trio.to_thread.run_sync(_git_init, base)
    lenient = await _verify_with_base(base)
    assert lenient.results_wire()["tests.pass"]["passed"] is True
    (base / ".devteam.toml").write_text(f'[verify]\ntest = "{report}"\nstrict = true\n')
    strict = await _verify_with_base(base)
    wire = strict.results_wire()["tests.pass"]
    assert wire["passed"] is False
    assert wire["details"]["strict"] is True
    assert wire["details"]["preExisting"] == ["tests/test_a.py::test_old"]


def _git_init(repo: Path) -> None:
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "base", cwd=repo)
    git("checkout", "-q", "-b", "task/x", cwd=repo)


async def _verify_with_base(repo: Path) -> VerifyOutcome:
    with trio.fail_after(60):
        return await verify(
            repo, {"tests.pass": "true"}, changed_files=(), settings=Settings(), base="main"
        )


async def test_verify_streams_each_gate_line_while_the_gate_runs(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    # the gate prints a line, then waits until the test has seen it
    script = f"echo collecting {SECRET}; while [ ! -f {gate} ]; do sleep 0.01; done; echo done"
    repo = _repo(tmp_path / "repo", {".devteam.toml": f"[verify]\ntest = '{script}'\n"})
    lines: list[tuple[str, str]] = []

    def on_line(stream: str, line: str) -> None:
        lines.append((stream, line))
        if "collecting" in line:
            gate.touch()  # the process is still running: it only ends once this exists

    with trio.fail_after(15):  # a gate whose lines came only at its end would never end
        outcome = await verify(
            repo,
            {"tests.pass": "true"},
            changed_files=(),
            settings=Settings(git_token=SECRET),
            on_line=on_line,
        )
    assert outcome.passed
    # tagged, as printed: the customer's journal redacts the lines where they leave
    assert lines == [("stdout", f"[test] collecting {SECRET}"), ("stdout", "[test] done")]


async def test_a_devteam_toml_linked_out_of_the_repo_or_too_large_is_refused(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text("[verify]\ntest = 'true'\n")
    repo = _repo(tmp_path / "repo", {"README.md": "x\n"})
    (repo / ".devteam.toml").symlink_to(outside)
    error = await _verify_error(repo, {"tests.pass": "true"})
    assert "link out of the repository" in error.message
    (repo / ".devteam.toml").unlink()
    (repo / ".devteam.toml").write_text("# " + "x" * 300_000 + "\n")
    error = await _verify_error(repo, {"tests.pass": "true"})
    assert "at most 256 KiB" in error.message


@pytest.mark.parametrize("report", ["../coverage.json", "/tmp/coverage.json"])
async def test_a_coverage_report_path_out_of_the_repo_is_refused(
    tmp_path: Path, report: str
) -> None:
    config = f"[verify]\ntest = 'true'\ncoverage_report = '{report}'\n"
    repo = _repo(tmp_path / "repo", {".devteam.toml": config})
    error = await _verify_error(repo, {"test.coverage": "80%"})
    assert "coverage_report" in error.message


async def test_a_coverage_report_the_tests_link_out_of_the_repo_is_never_read(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"files": {"calc.py": {"summary": {"percent_covered": 100}}}}')
    test = f"ln -sf {secret} coverage.json"
    config = f"[verify]\ntest = '{test}'\ncoverage_report = 'coverage.json'\n"
    repo = _repo(tmp_path / "repo", {".devteam.toml": config, "calc.py": "x = 1\n"})
    error = await _verify_error(repo, {"test.coverage": "80%"})
    assert "link out of the repository" in error.message
