"""The false-completion check of bench/autonomy.py: the gates again, in a fresh clone.

After the runs, each bare remote is cloned afresh (no workspace of the service's, no
``node_modules``, no caches). Every task its task list marks done is looked up on ``main``
(the merge commit whose subject names it), and the files that merge touched are judged by
the repository's own gates, run here by the bench, not by the service:

- Python: ``coverage run -m pytest`` + ``coverage json``, ``mypy --strict src``;
- TypeScript: ``vitest run`` with istanbul coverage, ``tsc --noEmit -p tsconfig.json``
  (``node_modules`` is linked from tests/fixtures/ts-toolchain when it is installed there,
  else installed once with ``npm ci --prefer-offline --ignore-scripts`` from npm's cache).

A done task is a false completion when a test in a file it touched fails, a file it touched
has a type error, or the source files it touched are covered below 80 % (lines; a file no
test loads is 0 %), or when no merge of it is on ``main``. The check also names every task
with a merge on ``main``, so the bench can tell that a task it skipped never got there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import attrs

from runner.tasks import parse_task_list
from tests.helpers.gitrepo import git

__all__ = ["FreshCheck", "check_remote"]

TASKS_FILE = "docs/DevTeam/tasks_list.md"
COVERAGE_MIN = 80.0
TS_TOOLCHAIN = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ts-toolchain"
_PYTEST_FAILED = re.compile(r"^(?:FAILED|ERROR) (?P<id>\S+)", re.MULTILINE)
_MYPY_ERROR = re.compile(r"^(?P<path>[^\s:]+):\d+: error:", re.MULTILINE)
_TSC_ERROR = re.compile(r"^(?P<path>[^\s(]+)\(\d+,\d+\): error TS", re.MULTILINE)


@attrs.frozen
class Gates:
    """What the gates said about the whole clone."""

    failing: dict[str, list[str]]
    """Test file -> its failing tests."""
    type_errors: dict[str, int]
    """File -> number of type errors."""
    lines: dict[str, tuple[int, int]]
    """Source file -> (covered lines, measurable lines)."""


@attrs.frozen
class FreshCheck:
    """One repository's verdicts: done task id -> the problems found (empty: it holds)."""

    done: dict[str, list[str]]
    suite: list[str]
    """Problems anywhere in the clone (failing tests, type errors), for the record."""
    merged: frozenset[str] = frozenset()
    """Every task with a merge on ``main``, marked done or not."""

    @property
    def false_completions(self) -> list[str]:
        """The done tasks whose change does not pass the gates in the fresh clone."""
        return [task_id for task_id, problems in self.done.items() if problems]


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return result.stdout + result.stderr


def _is_source(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return parts[0] == "src" and PurePosixPath(path).suffix in {".py", ".ts"}


def _python_gates(clone: Path, work: Path) -> Gates:
    python, report = sys.executable, work / "coverage.json"
    env = {"COVERAGE_FILE": str(work / ".coverage")}
    output = _run([python, "-m", "coverage", "run", "--source=src", "-m", "pytest",
                   "-p", "no:cacheprovider", "-q", "-rfE"], clone, env)  # fmt: skip
    _run([python, "-m", "coverage", "json", "-q", "-o", str(report)], clone, env)
    failing: dict[str, list[str]] = {}
    for match in _PYTEST_FAILED.finditer(output):
        failing.setdefault(match["id"].split("::")[0], []).append(match["id"])
    files = json.loads(report.read_text())["files"] if report.exists() else {}
    lines = {
        path: (
            len(entry["executed_lines"]),
            len(entry["executed_lines"]) + len(entry["missing_lines"]),
        )
        for path, entry in files.items()
    }
    typed = _run([python, "-m", "mypy", "--strict", "--no-color-output", "--cache-dir",
                  str(work / "mypy"), "src"], clone)  # fmt: skip
    errors: dict[str, int] = {}
    for match in _MYPY_ERROR.finditer(typed):
        errors[match["path"]] = errors.get(match["path"], 0) + 1
    return Gates(failing, errors, lines)


def _node_modules(clone: Path, shared: Path) -> None:
    """Link a ``node_modules``: the fixture's, else one installed once under ``shared``."""
    source = TS_TOOLCHAIN / "node_modules"
    if not source.is_dir():
        source = shared / "node_modules"
        if not source.is_dir():
            shared.mkdir(parents=True, exist_ok=True)
            for name in ("package.json", "package-lock.json"):
                (shared / name).write_text((clone / name).read_text())
            flags = ["--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"]
            _run(["npm", "ci", *flags], shared)
    (clone / "node_modules").symlink_to(source, target_is_directory=True)


def _ts_gates(clone: Path, work: Path) -> Gates:
    reports, results = work / "coverage", work / "results.json"
    _run(["node", "node_modules/vitest/vitest.mjs", "run", "--coverage.enabled=true",
          "--coverage.provider=istanbul", "--coverage.reporter=json",
          f"--coverage.reportsDirectory={reports}", "--reporter=json",
          f"--outputFile.json={results}"], clone)  # fmt: skip
    root = clone.resolve()
    failing: dict[str, list[str]] = {}
    data = json.loads(results.read_text()) if results.exists() else {"testResults": []}
    for suite in data["testResults"]:
        file = Path(suite["name"]).resolve().relative_to(root).as_posix()
        failed = [a["title"] for a in suite["assertionResults"] if a["status"] == "failed"]
        if failed or suite["status"] == "failed":
            failing[file] = [f"{file} > {title}" for title in failed] or [f"{file} (load)"]
    lines: dict[str, tuple[int, int]] = {}
    final = reports / "coverage-final.json"
    for name, entry in (json.loads(final.read_text()) if final.exists() else {}).items():
        hit: dict[int, bool] = {}
        for key, where in entry["statementMap"].items():
            line = where["start"]["line"]
            hit[line] = hit.get(line, False) or entry["s"][key] > 0
        path = Path(name).resolve().relative_to(root).as_posix()
        lines[path] = (sum(hit.values()), len(hit))
    typed = _run(["node", "node_modules/typescript/bin/tsc", "--noEmit", "--pretty", "false",
                  "-p", "tsconfig.json"], clone)  # fmt: skip
    errors: dict[str, int] = {}
    for match in _TSC_ERROR.finditer(typed):
        errors[match["path"]] = errors.get(match["path"], 0) + 1
    return Gates(failing, errors, lines)


def _merges(clone: Path) -> dict[str, str]:
    """Task id -> the merge commit on ``main`` that brought it in."""
    found = {}
    for line in git("log", "--merges", "--format=%H %s", "main", cwd=clone).splitlines():
        sha, _, subject = line.partition(" ")
        if match := re.search(r": Task (\S+):", subject):
            found.setdefault(match[1], sha)
    return found


def _problems(clone: Path, touched: list[str], gates: Gates) -> list[str]:
    problems = [f"failing: {', '.join(gates.failing[f])}" for f in touched if f in gates.failing]
    problems += [f"{gates.type_errors[f]} type error(s) in {f}" for f in touched
                 if f in gates.type_errors]  # fmt: skip
    sources = [f for f in touched if _is_source(f)]
    if sources:
        covered = sum(gates.lines.get(f, (0, 0))[0] for f in sources)
        total = sum(gates.lines.get(f, (0, 0))[1] or _estimate(clone / f) for f in sources)
        percent = 100.0 * covered / total if total else 100.0
        if percent < COVERAGE_MIN:
            problems.append(f"coverage {percent:.0f}% of {', '.join(sources)}")
    return problems


def _estimate(path: Path) -> int:
    """A file no test loaded is absent from the report: its code lines, none covered."""
    if not path.is_file():
        return 0
    code = [s for s in (x.strip() for x in path.read_text().splitlines()) if s]
    return len([s for s in code if not s.startswith(("#", "//", '"""', "*", "/*"))])


def check_remote(remote: Path, language: str, work: Path) -> FreshCheck:
    """Clone ``remote`` afresh under ``work`` and judge every task its list marks done."""
    work.mkdir(parents=True, exist_ok=True)
    clone = work / "clone"
    git("clone", "-q", str(remote), str(clone), cwd=work)
    if language == "ts":
        _node_modules(clone, work.parent / "fresh-node-modules")
        gates = _ts_gates(clone, work)
    else:
        gates = _python_gates(clone, work)
    tasks = parse_task_list((clone / TASKS_FILE).read_text(encoding="utf-8"))
    merges = _merges(clone)
    done: dict[str, list[str]] = {}
    for task in tasks.atomic():
        if not task.done:
            continue
        sha = merges.get(task.id)
        if sha is None:
            done[task.id] = ["marked done but no merge of it on main"]
            continue
        touched = git("diff", "--name-only", f"{sha}^1", sha, cwd=clone).splitlines()
        done[task.id] = _problems(clone, touched, gates)
    suite = [f"failing: {', '.join(ids)}" for ids in gates.failing.values()]
    suite += [f"{n} type error(s) in {path}" for path, n in gates.type_errors.items()]
    return FreshCheck(done, suite, frozenset(merges))
