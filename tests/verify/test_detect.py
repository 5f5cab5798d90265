"""`.devteam.toml`, toolchain detection and the commands planned for each gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from runner.errors import VerifyError
from runner.verify import VerifyConfig, detect_toolchain, load_verify_config
from runner.verify.commands import (
    TestPlan,
    needs_node_install,
    plan_lint,
    plan_tests,
    plan_typecheck,
)
from runner.verify.related import plan_related

if TYPE_CHECKING:
    from runner.verify import Toolchain


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _chain(repo: Path, node: str = "node") -> Toolchain:
    return detect_toolchain(repo, python_path=sys.executable, node_path=node)


def test_load_verify_config_strings_lists_and_report(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            ".devteam.toml": (
                '[verify]\nsetup = "make deps"\ntest = ["pytest", "-q"]\n'
                'coverage_report = "cov.json"\n'
            )
        },
    )
    assert load_verify_config(tmp_path) == VerifyConfig(
        setup=("sh", "-c", "make deps"), test=("pytest", "-q"), coverage_report="cov.json"
    )
    assert load_verify_config(tmp_path / "absent") == VerifyConfig()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[verify\n", "not valid TOML"),
        ("verify = 3\n", "must be a table"),
        ('[verify]\ntests = "pytest"\n', "unknown [verify] keys: tests"),
        ("[verify]\ntest = 3\n", "[verify].test must be a command"),
        ("[verify]\nlint = []\n", "[verify].lint must be a command"),
        ('[verify]\ncoverage_report = ""\n', "coverage_report must be a path"),
    ],
)
def test_load_verify_config_rejects(tmp_path: Path, text: str, fragment: str) -> None:
    _write(tmp_path, {".devteam.toml": text})
    with pytest.raises(VerifyError) as info:
        load_verify_config(tmp_path)
    assert info.value.code == "verify_failed"
    assert fragment in info.value.message
    assert info.value.message.startswith(".devteam.toml: ")


def test_detect_python_and_interpreter_path(tmp_path: Path) -> None:
    chain = _chain(_write(tmp_path, {"requirements.txt": "attrs\n"}))
    assert chain.language == "python"
    assert chain.python is not None
    assert chain.path.split(":")[0] == str(Path(chain.python).parent)
    assert {"/usr/local/bin", "/usr/bin", "/bin"} <= set(chain.path.split(":"))


def test_detect_prefers_node_only_with_a_test_script(tmp_path: Path) -> None:
    _write(tmp_path, {"pyproject.toml": "", "package.json": '{"scripts": {"build": "tsc"}}'})
    assert _chain(tmp_path).language == "python"
    _write(tmp_path, {"package.json": '{"scripts": {"test": "vitest run"}}'})
    chain = _chain(tmp_path)
    assert (chain.language, chain.test_script) == ("node", "vitest run")
    assert chain.npm is not None
    assert chain.npm.endswith("/npm")


def test_detect_unknown_and_missing_interpreters(tmp_path: Path) -> None:
    chain = detect_toolchain(tmp_path, python_path="/nope/python", node_path="/nope/node")
    assert (chain.language, chain.python, chain.node, chain.npm) == ("unknown", None, None, None)
    with pytest.raises(VerifyError, match="Python interpreter not found"):
        chain.require_python()
    with pytest.raises(VerifyError, match="node not found"):
        chain.require_npm()
    with pytest.raises(VerifyError, match="no test command"):
        plan_tests(tmp_path, chain, VerifyConfig(), tmp_path, coverage=False)


def test_detect_rejects_broken_package_json(tmp_path: Path) -> None:
    _write(tmp_path, {"package.json": "[1]"})
    with pytest.raises(VerifyError, match="not a JSON object"):
        _chain(tmp_path)


def test_python_test_plan_runs_pytest_under_coverage(tmp_path: Path) -> None:
    repo = _write(tmp_path / "repo", {"pyproject.toml": "[project]\nname = 'x'\n"})
    work = tmp_path / "work"
    plan = plan_tests(repo, _chain(repo), VerifyConfig(), work, coverage=True)
    python = _chain(repo).python
    assert plan.command == (
        python, "-m", "coverage", "run", "--source=.", "-m", "pytest", "-p", "no:cacheprovider",
        "-rfE",
    )  # fmt: skip
    assert plan.env == {"COVERAGE_FILE": str(work / ".coverage")}
    assert plan.report_command == (
        python, "-m", "coverage", "json", "-q", "-o", str(work / "coverage.json"),
    )  # fmt: skip
    plain = plan_tests(repo, _chain(repo), VerifyConfig(), work, coverage=False)
    assert plain.command[1:3] == ("-m", "pytest")
    assert plain.coverage_report is None


def test_python_test_plan_respects_configured_coverage_source(tmp_path: Path) -> None:
    _write(tmp_path, {"pyproject.toml": '[tool.coverage.run]\nsource = ["pkg"]\n'})
    plan = plan_tests(tmp_path, _chain(tmp_path), VerifyConfig(), tmp_path, coverage=True)
    assert "--source=." not in plan.command


def test_node_test_plans_for_vitest_and_jest(tmp_path: Path) -> None:
    _write(tmp_path, {"package.json": '{"scripts": {"test": "vitest run"}}'})
    (tmp_path / "node_modules/@vitest/coverage-istanbul").mkdir(parents=True)
    work = tmp_path / "work"
    plan = plan_tests(tmp_path, _chain(tmp_path), VerifyConfig(), work, coverage=True)
    assert plan.runner == "vitest"
    assert plan.command[1:4] == ("test", "--", "--coverage.enabled=true")
    assert "--coverage.provider=istanbul" in plan.command
    assert f"--outputFile.json={work / 'results.json'}" in plan.command
    assert plan.coverage_report == work / "coverage" / "coverage-final.json"
    _write(tmp_path, {"package.json": '{"scripts": {"test": "jest"}}'})
    plan = plan_tests(tmp_path, _chain(tmp_path), VerifyConfig(), work, coverage=False)
    assert plan.runner == "jest"
    assert plan.command[1:] == ("test", "--", "--ci", "--json", f"--outputFile={work}/results.json")


def test_node_test_plan_cannot_measure_an_unknown_runner(tmp_path: Path) -> None:
    _write(tmp_path, {"package.json": '{"scripts": {"test": "mocha"}}'})
    chain = _chain(tmp_path)
    assert plan_tests(tmp_path, chain, VerifyConfig(), tmp_path, coverage=False).command[1:] == (
        "test",
    )
    with pytest.raises(VerifyError, match="cannot measure coverage of test script 'mocha'"):
        plan_tests(tmp_path, chain, VerifyConfig(), tmp_path, coverage=True)
    with pytest.raises(VerifyError, match="coverage_report is not"):
        plan_tests(tmp_path, chain, VerifyConfig(test=("mocha",)), tmp_path, coverage=True)


@pytest.mark.parametrize(
    ("files", "targets"),
    [
        ({"src/pkg/__init__.py": ""}, ("src",)),
        ({"pkg/__init__.py": "", "tests/__init__.py": "", "tool.py": "", "setup.py": ""}, None),
        ({"pyproject.toml": '[tool.mypy]\nfiles = ["pkg"]\n'}, ()),
        ({"README.md": ""}, (".",)),
    ],
)
def test_mypy_strict_targets(tmp_path: Path, files: dict[str, str], targets: object) -> None:
    _write(tmp_path, {"requirements.txt": "", **files})
    plan = plan_typecheck(tmp_path, _chain(tmp_path), VerifyConfig(), tmp_path / "cache")
    assert plan.tool == "mypy"
    assert plan.command is not None
    assert plan.command[1:5] == ("-m", "mypy", "--strict", "--no-color-output")
    expected = ("pkg", "tool.py") if targets is None else targets
    assert plan.command[7:] == expected


def test_typecheck_plans_pyright_tsc_and_configured(tmp_path: Path) -> None:
    _write(tmp_path, {"pyproject.toml": "[tool.pyright]\nstrict = ['.']\n"})
    with pytest.raises(VerifyError, match="pyright is configured but not installed"):
        plan_typecheck(tmp_path, _chain(tmp_path), VerifyConfig(), tmp_path)
    configured = VerifyConfig(typecheck=("sh", "-c", "pyright"))
    assert plan_typecheck(tmp_path, _chain(tmp_path), configured, tmp_path).tool == "custom"
    node = _write(tmp_path / "node", {"package.json": json.dumps({"scripts": {"test": "x"}})})
    plan = plan_typecheck(node, _chain(node), VerifyConfig(), tmp_path)
    assert plan.command is None
    assert plan.skipped == "plain JavaScript: no tsconfig.json, and no jsconfig.json with checkJs"
    _write(node, {"jsconfig.json": '{"compilerOptions": {"checkJs": false}}'})
    assert plan_typecheck(node, _chain(node), VerifyConfig(), tmp_path).command is None
    _write(node, {"jsconfig.json": '{"compilerOptions": {"checkJs": true}}'})
    with pytest.raises(VerifyError, match=r"jsconfig\.json asks for type checking"):
        plan_typecheck(node, _chain(node), VerifyConfig(), tmp_path)
    _write(node, {"tsconfig.json": "{}"})
    with pytest.raises(VerifyError, match="TypeScript is not installed after setup"):
        plan_typecheck(node, _chain(node), VerifyConfig(), tmp_path)
    (node / "node_modules" / "typescript" / "bin").mkdir(parents=True)
    (node / "node_modules" / "typescript" / "bin" / "tsc").write_text("")
    command = plan_typecheck(node, _chain(node), VerifyConfig(), tmp_path).command
    assert command is not None
    assert command[-2:] == ("-p", "tsconfig.json")


def test_lint_and_setup_plans(tmp_path: Path) -> None:
    _write(tmp_path, {"package.json": '{"scripts": {"test": "x", "lint": "eslint ."}}'})
    chain = _chain(tmp_path)
    assert plan_lint(tmp_path, chain, VerifyConfig()).command == (chain.npm, "run", "lint")
    cache = tmp_path / "cache"
    (cache / "k" / "node_modules").mkdir(parents=True)
    assert needs_node_install(tmp_path, chain, VerifyConfig(), cache)
    assert not needs_node_install(tmp_path, chain, VerifyConfig(setup=("make", "deps")), cache)
    (tmp_path / "node_modules").symlink_to(cache / "k" / "node_modules")  # ours: re-checked
    assert needs_node_install(tmp_path, chain, VerifyConfig(), cache)
    (tmp_path / "node_modules").unlink()
    (tmp_path / "node_modules").symlink_to(tmp_path)  # the repository's own link
    assert not needs_node_install(tmp_path, chain, VerifyConfig(), cache)
    (tmp_path / "node_modules").unlink()
    (tmp_path / "node_modules").mkdir()  # committed: used as it is
    assert not needs_node_install(tmp_path, chain, VerifyConfig(), cache)
    _write(tmp_path, {"package.json": '{"scripts": {"test": "x"}}'})
    with pytest.raises(VerifyError, match="no linter"):
        plan_lint(tmp_path, _chain(tmp_path), VerifyConfig())
    python = _write(tmp_path / "py", {"setup.py": ""})
    ruff = plan_lint(python, _chain(python), VerifyConfig()).command
    assert ruff is not None
    assert ruff[1:] == ("-m", "ruff", "check", "--output-format=concise", "--no-cache", ".")


def test_plan_related_finds_python_tests_by_their_imports(tmp_path: Path) -> None:
    repo = _write(
        tmp_path,
        {
            "pyproject.toml": "",
            "src/shop/__init__.py": "",
            "src/shop/cart.py": "",
            "src/shop/price.py": "",
            "tests/test_cart.py": "from shop.cart import Cart\n",
            "tests/test_pkg.py": "from shop import price\n",
            "tests/test_other.py": "import json\n",
            "tests/test_broken.py": "def (:\n",
        },
    )
    chain = _chain(repo)
    full = TestPlan(("python", "-m", "pytest"), "pytest")
    plan = plan_related(repo, chain, VerifyConfig(), tmp_path, ["src/shop/price.py"], full)
    assert plan is not None
    assert plan.command[-1:] == ("tests/test_pkg.py",)
    cart = plan_related(repo, chain, VerifyConfig(), tmp_path, ["src/shop/cart.py"], full)
    assert cart is not None
    # `from shop import price` imports the package too: kept, related runs err on the safe side
    assert cart.command[-2:] == ("tests/test_cart.py", "tests/test_pkg.py")
    assert plan_related(repo, chain, VerifyConfig(), tmp_path, ["README.md"], full) is None
    configured = VerifyConfig(test=("make", "test"))
    assert plan_related(repo, chain, configured, tmp_path, ["src/shop/cart.py"], full) is None
