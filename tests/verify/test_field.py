"""VERIFY on repositories as the field has them: fresh clones, red bases, drifting lock files.

Each fixture (``tests/helpers/field_repos.py``) is cloned fresh per branch, with no
``node_modules``; the dependency cache is shared by the module, as it is by customers. The
first branch of a fixture is verified alone (it installs), the others together (they reuse
the install). Each test asserts one branch's exact verdicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio

from runner.config import Settings
from runner.errors import VerifyError
from runner.verify import VerifyOutcome, verify
from tests.helpers.field_repos import build_remote, clone_branch
from tests.helpers.gitrepo import git

if TYPE_CHECKING:
    from pathlib import Path

DEFAULTS = {"test.coverage": "≥80%", "type.strict": "0 errors", "tests.pass": "true"}
HANG_TIMEOUT_S = 10.0
OUT_OF_SYNC = (
    "package-lock.json is out of sync with package.json: installed with npm install "
    "(the lock file in the workspace is left unchanged)"
)

Verified = dict[str, tuple["Path", VerifyOutcome]]


def _settings(cache: Path, branch: str) -> Settings:
    timeout = HANG_TIMEOUT_S if branch == "hangs" else 300.0
    return Settings(deps_cache_dir=cache, verify_test_timeout_s=timeout)


def _verify_branches(root: Path, kind: str, branches: list[str]) -> Verified:
    remote = build_remote(root, kind)
    cache = root / "deps"
    verified: Verified = {}

    async def one(branch: str) -> None:
        repo, changed = clone_branch(remote, branch, root / f"{kind}-{branch}")
        outcome = await verify(
            repo, DEFAULTS, changed_files=changed, settings=_settings(cache, branch), base="main"
        )
        verified[branch] = (repo, outcome)

    async def main() -> None:
        with trio.fail_after(600):
            await one(branches[0])  # installs into the cache
            async with trio.open_nursery() as nursery:
                for branch in branches[1:]:
                    nursery.start_soon(one, branch)

    trio.run(main)
    return verified


@pytest.fixture(scope="module")
def js(tmp_path_factory: pytest.TempPathFactory) -> Verified:
    """The JS app (jest + babel, lock out of sync), each branch from a fresh clone."""
    root = tmp_path_factory.mktemp("js")
    return _verify_branches(root, "js", ["good", "untested", "breaks", "hangs"])


@pytest.fixture(scope="module")
def ts(tmp_path_factory: pytest.TempPathFactory) -> Verified:
    """The TS app (vitest + istanbul + tsc), each branch from a fresh clone."""
    return _verify_branches(tmp_path_factory.mktemp("ts"), "ts", ["good", "untested"])


@pytest.fixture(scope="module")
def py(tmp_path_factory: pytest.TempPathFactory) -> Verified:
    """The Python src-layout package, each branch from a fresh clone."""
    root = tmp_path_factory.mktemp("py")
    return _verify_branches(root, "py", ["good", "untested", "breaks", "hangs"])


def _wire(outcome: VerifyOutcome, name: str) -> dict[str, Any]:
    return outcome.results_wire()[name]


JS_LEGACY = "tests/legacy.test.js > legacy rounding"
NOT_APPLICABLE = {
    "passed": True,
    "actual": "not applicable",
    "required": "0 errors",
    "details": {"skipped": "plain JavaScript: no tsconfig.json, and no jsconfig.json with checkJs"},
}


@pytest.mark.node
def test_js_good_change_passes_beside_a_pre_existing_failure(js: Verified) -> None:
    repo, outcome = js["good"]
    assert outcome.passed
    tests = _wire(outcome, "tests.pass")
    assert tests["actual"] == f"1 failed, all pre-existing on the base: {JS_LEGACY}"
    assert tests["details"]["preExisting"] == [JS_LEGACY]
    assert tests["details"]["new"] == []
    assert tests["details"]["base"]["failures"] == [JS_LEGACY]
    coverage = _wire(outcome, "test.coverage")
    assert (coverage["actual"], coverage["details"]["scope"]) == ("100%", ["src/sub.js"])
    assert _wire(outcome, "type.strict") == NOT_APPLICABLE
    # npm ci refused the drifting lock; npm install ran without the download script
    assert outcome.notes[0] == OUT_OF_SYNC
    assert "npm error `npm ci` can only install packages" in outcome.artifacts["setupOutput"]
    assert outcome.setup_time > 0
    # the workspace is as the clone left it: lock file unchanged, node_modules hidden
    assert git("status", "--porcelain", cwd=repo) == ""
    assert (repo / "node_modules").is_symlink()


@pytest.mark.node
def test_js_second_verify_of_the_same_lock_reuses_the_install(js: Verified) -> None:
    targets = {(repo / "node_modules").resolve() for repo, _ in js.values()}
    assert len(targets) == 1  # one node_modules per lock-file hash, not one per workspace
    for branch in ("untested", "breaks", "hangs"):
        _, outcome = js[branch]
        assert outcome.setup_time == 0.0
        assert "setupOutput" not in outcome.artifacts


@pytest.mark.node
def test_js_new_untested_module_counts_as_zero(js: Verified) -> None:
    _, outcome = js["untested"]
    coverage = _wire(outcome, "test.coverage")
    assert coverage["passed"] is False
    assert coverage["actual"] == "0%"
    assert coverage["details"]["scope"] == ["src/discount.js", "src/sub.js"]
    assert coverage["details"]["unmeasured"] == ["src/discount.js", "src/sub.js"]
    assert coverage["details"]["totalLines"] == 4
    assert _wire(outcome, "tests.pass")["passed"] is True


@pytest.mark.node
def test_js_change_that_breaks_a_test_is_a_new_failure(js: Verified) -> None:
    _, outcome = js["breaks"]
    tests = _wire(outcome, "tests.pass")
    assert tests["passed"] is False
    # jest --findRelatedTests ran tests/add.test.js first: a new failure ends VERIFY early
    assert tests["actual"] == "1 failed: tests/add.test.js > adds"
    assert tests["details"]["new"] == ["tests/add.test.js > adds"]
    assert tests["details"]["stoppedEarly"].startswith("a test related to the touched files")
    assert tests["details"]["base"]["failures"] == [JS_LEGACY]
    assert "relatedTestOutput" in outcome.artifacts
    assert "testOutput" not in outcome.artifacts
    [added] = [t for t in tests["details"]["tests"] if t["status"] == "new"]
    assert added["message"].startswith("Error: expect(received).toBe(expected)")
    assert _wire(outcome, "test.coverage")["passed"] is False


@pytest.mark.node
def test_js_hanging_test_is_a_verdict_with_its_last_lines(js: Verified) -> None:
    _, outcome = js["hangs"]
    tests = _wire(outcome, "tests.pass")
    assert tests["passed"] is False
    assert tests["actual"].startswith(f"timed out after {HANG_TIMEOUT_S:g} s in ")
    assert "npm test" in tests["actual"]
    assert "tail" in tests["details"]
    assert _wire(outcome, "test.coverage")["passed"] is False


@pytest.mark.node
def test_ts_fresh_clone_installs_then_type_checks(ts: Verified) -> None:
    repo, outcome = ts["good"]
    assert outcome.notes == ()  # the lock file is in sync: npm ci
    assert outcome.passed, outcome.results_wire()
    assert _wire(outcome, "type.strict")["actual"] == "0 errors"
    tests = _wire(outcome, "tests.pass")
    assert tests["details"]["preExisting"] == ["tests/legacy.test.ts > legacy"]
    assert git("status", "--porcelain", cwd=repo) == ""
    # vitest related ran the touched file's test first (and only it), then the full suite
    related = outcome.artifacts["relatedTestOutput"]
    assert "sub.test.ts" in related
    assert "legacy.test.ts" not in related


@pytest.mark.node
def test_ts_new_untested_module_counts_as_zero(ts: Verified) -> None:
    _, outcome = ts["untested"]
    coverage = _wire(outcome, "test.coverage")
    assert (coverage["passed"], coverage["actual"]) == (False, "0%")
    assert coverage["details"]["scope"] == ["src/sub.ts"]


def test_py_src_layout_good_change(py: Verified) -> None:
    _, outcome = py["good"]
    assert outcome.passed, outcome.results_wire()
    coverage = _wire(outcome, "test.coverage")
    assert (coverage["actual"], coverage["details"]["scope"]) == ("100%", ["src/calc/sub.py"])
    tests = _wire(outcome, "tests.pass")
    assert tests["details"]["preExisting"] == ["tests/test_legacy.py::test_legacy"]


def test_py_src_layout_untested_module_is_not_100_percent(py: Verified) -> None:
    _, outcome = py["untested"]
    coverage = _wire(outcome, "test.coverage")
    assert coverage["passed"] is False
    assert coverage["actual"] == "0%"
    assert coverage["details"]["scope"] == ["src/calc/sub.py"]


def test_py_breaking_change_names_the_new_failure_and_its_message(py: Verified) -> None:
    _, outcome = py["breaks"]
    tests = _wire(outcome, "tests.pass")
    assert tests["passed"] is False
    assert tests["details"]["new"] == ["tests/test_ops.py::test_add"]
    # only tests/test_ops.py imports calc.ops: it ran first, and its failure ended VERIFY
    assert "stoppedEarly" in tests["details"]
    assert "tests/test_legacy.py" not in outcome.artifacts["relatedTestOutput"]
    [new] = [t for t in tests["details"]["tests"] if t["status"] == "new"]
    assert new["message"].startswith("assert -1 == 5")


def test_py_hanging_test_is_a_422_verdict_not_an_error(py: Verified) -> None:
    _, outcome = py["hangs"]
    tests = _wire(outcome, "tests.pass")
    assert tests["passed"] is False
    assert tests["actual"].startswith(f"timed out after {HANG_TIMEOUT_S:g} s in ")


def test_py_base_run_is_cached_per_base_commit(py: Verified) -> None:
    repo, _ = py["breaks"]
    cached = list((repo / ".git" / "devteam-verify" / "baseline").glob("*.json"))
    assert len(cached) == 1


async def test_failed_npm_install_quotes_npm_errors_first(tmp_path: Path) -> None:
    repo = tmp_path / "app"
    repo.mkdir()
    (repo / "package.json").write_text(
        '{"name": "app", "scripts": {"test": "jest"},'
        ' "devDependencies": {"missing-dep": "file:vendor/nope.tgz"}}'
    )
    git("init", "-q", cwd=repo)
    settings = attrs.evolve(Settings(), deps_cache_dir=tmp_path / "deps")
    with trio.fail_after(120), pytest.raises(VerifyError) as info:
        await verify(repo, {"tests.pass": "true"}, changed_files=[], settings=settings)
    error = info.value
    assert error.message.startswith("npm install failed (exit ")
    assert "npm error" in error.message.split(": ", 1)[1].split(" | ")[0]
    [details] = error.details
    assert details["command"].split()[1:3] == ["install", "--no-audit"]
    assert "--ignore-scripts" in details["command"]
    assert details["firstErrors"][0].startswith("npm error")
    assert not (repo / "node_modules").exists()
