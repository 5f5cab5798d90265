"""The tests related to the touched files, run first for fast feedback.

Where the runner can tell which tests exercise a file: jest ``--findRelatedTests``, vitest
``related``, and for pytest the test files that import a touched module (read with
:mod:`ast`, no import executed). A new failure among them ends VERIFY early; otherwise the
full suite runs and decides, as always.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from runner.verify.commands import TestPlan
from runner.verify.coverage import is_source_file

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from runner.verify.detect import Toolchain, VerifyConfig

__all__ = ["plan_related"]

_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", ".tox", "build", "dist", "__pycache__"}


def _module_name(path: str) -> str | None:
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or None


def _imports(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _test_files(repo: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                yield Path(folder) / name


def _related_python(repo: Path, modules: set[str]) -> list[str]:
    """The test files that import one of ``modules`` (or a package or module of them)."""
    related = []
    for test in sorted(_test_files(repo)):
        for name in _imports(test):
            if any(
                name == m or m.startswith(f"{name}.") or name.startswith(f"{m}.") for m in modules
            ):
                related.append(test.relative_to(repo).as_posix())
                break
    return related


def plan_related(
    repo: Path,
    chain: Toolchain,
    config: VerifyConfig,
    work: Path,
    changed: Sequence[str],
    full: TestPlan,
) -> TestPlan | None:
    """Plan a run of the tests related to the touched source files (None: no such run).

    Only for detected runners (a configured ``test`` command is run as it is), and only when
    the related tests are fewer than all of them (pytest) or the runner selects them (jest,
    vitest). Blocking file reads: call in a thread.
    """
    sources = sorted(p for p in changed if is_source_file(p) and (repo / p).is_file())
    if config.test is not None or not sources:
        return None
    results = work / "related.json"
    if full.runner == "jest":
        args = ("--ci", "--findRelatedTests", *sources, "--passWithNoTests", "--json")
        command = (*full.command[:3], *args, f"--outputFile={results}")
        return TestPlan(command, "jest", results_file=results)
    vitest = repo / "node_modules" / "vitest" / "vitest.mjs"
    if full.runner == "vitest" and chain.node is not None and vitest.is_file():
        reporters = ("--reporter=default", "--reporter=json", f"--outputFile.json={results}")
        command = (chain.node, str(vitest), "related", "--run", "--passWithNoTests", *sources)
        return TestPlan((*command, *reporters), "vitest", results_file=results)
    if full.runner != "pytest" or chain.python is None:
        return None
    modules = {m for m in map(_module_name, sources) if m}
    tests = _related_python(repo, modules)
    if not tests or len(tests) == sum(1 for _ in _test_files(repo)):
        return None  # nothing related, or everything: the full run says the same sooner
    return TestPlan(
        (chain.python, "-m", "pytest", "-p", "no:cacheprovider", "-rfE", *tests), "pytest"
    )
