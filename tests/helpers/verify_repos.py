"""Build the VERIFY fixture repositories: a Python package and a TypeScript package.

Each is a real git repository whose ``main`` holds a small, fully tested package plus an
untested module (so "touched scope" differs from "everything"), and five task branches:

- ``task/pass``         all criteria met
- ``task/low-coverage`` new code left partly untested
- ``task/type-error``   two type errors (and, in Python, one lint finding)
- ``task/failing-test`` a bug caught by a test
- ``task/no-doc``       all good but ``task_outcomes.md`` untouched

:func:`build_repo` checks every branch out into its own worktree and returns, per branch,
the worktree and the files it changed (``git diff --name-only main...branch``). The
TypeScript worktrees get a ``node_modules`` symlink to the pinned toolchain installed by
``npm ci --prefix tests/fixtures/ts-toolchain`` (see :data:`TS_TOOLCHAIN`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from tests.helpers.gitrepo import git

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BRANCHES",
    "PYTHON_BRANCHES",
    "PYTHON_MAIN",
    "TS_BRANCHES",
    "TS_MAIN",
    "TS_TOOLCHAIN",
    "Checkout",
    "build_repo",
    "write_files",
]

TS_TOOLCHAIN = Path(__file__).resolve().parent.parent / "fixtures" / "ts-toolchain"
"""``package.json`` + ``package-lock.json`` pinning vitest, its istanbul provider and tsc."""

BRANCHES = ("pass", "low-coverage", "type-error", "failing-test", "no-doc")
OUTCOMES_MD = "docs/DevTeam/task_outcomes.md"
_OUTCOME = "# Task outcomes\n\n### 1.1 Stats\n- Outputs Summary: done\n"

Files = dict[str, str]

# --- Python -------------------------------------------------------------------------------
# Statement counts (coverage.py): every `def` line and every body statement is one.

PYTHON_MAIN: Files = {
    "pyproject.toml": (
        '[project]\nname = "calc"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n'
        # The runner's own interpreter carries its dev plugins; schemathesis alone costs 3 s.
        'addopts = "-p no:schemathesis -p no:hypothesispytest -p no:trio -p no:anyio"\n'
    ),
    ".gitignore": "__pycache__/\n.coverage\n",
    "README.md": "# calc\n",
    OUTCOMES_MD: "# Task outcomes\n",
    "calc/__init__.py": "",
    # 2 statements, both covered by test_add
    "calc/ops.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
    # 3 statements, never imported: 0/3 (outside every branch's touched scope)
    "calc/legacy.py": (
        "def shout(text: str) -> str:\n    cleaned = text.strip()\n    return cleaned.upper()\n"
    ),
    "tests/test_ops.py": (
        "from calc.ops import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    ),
}

_PY_OPS_SUB = PYTHON_MAIN["calc/ops.py"] + "\n\ndef sub(a: int, b: int) -> int:\n    return a - b\n"
_PY_OPS_BUG = _PY_OPS_SUB.replace("return a - b", "return a + b")
_PY_TEST_SUB = (
    "from calc.ops import add, sub\n\n\n"
    "def test_add() -> None:\n    assert add(2, 3) == 5\n\n\n"
    "def test_sub() -> None:\n    assert sub(5, 3) == 2\n"
)
# 6 statements: def mean, if, raise, return, def spread, return
_PY_STATS = (
    "def mean(values: list[float]) -> float:\n"
    "    if not values:\n"
    '        raise ValueError("mean of nothing")\n'
    "    return sum(values) / len(values)\n\n\n"
    "def spread(values: list[float]) -> float:\n"
    "    return max(values) - min(values)\n"
)
_PY_TEST_MEAN = (
    "from calc.stats import mean\n\n\n"
    "def test_mean() -> None:\n    assert mean([1.0, 2.0, 3.0]) == 2.0\n"
)
_PY_TEST_STATS = _PY_TEST_MEAN.replace("import mean", "import mean, spread") + (
    "\n\ndef test_spread() -> None:\n    assert spread([1.0, 5.0]) == 4.0\n"
)
# mypy --strict: 2 errors (return-value on line 5, no-untyped-def on line 8);
# and 1 lint error for ruff (F401, the unused import); 5 statements (the import too), all covered
_PY_CONVERT = (
    "import os\n\n\n"
    "def to_int(text: str) -> int:\n    return text.strip()\n\n\n"
    "def double(value):\n    return value * 2\n"
)
_PY_TEST_CONVERT = (
    "from calc.convert import double, to_int\n\n\n"
    'def test_to_int() -> None:\n    assert to_int(" 7 ") == "7"\n\n\n'
    "def test_double() -> None:\n    assert double(4) == 8\n"
)

PYTHON_BRANCHES: dict[str, Files] = {
    # scope calc/ops.py 4/4 + calc/stats.py 5/6 (the raise) = 9/10 = 90%
    "pass": {
        "calc/ops.py": _PY_OPS_SUB,
        "calc/stats.py": _PY_STATS,
        "tests/test_ops.py": _PY_TEST_SUB,
        "tests/test_stats.py": _PY_TEST_STATS,
        OUTCOMES_MD: _OUTCOME,
    },
    # scope calc/stats.py: def mean, if, return, def spread = 4/6 = 66.66% -> "66.6%"
    "low-coverage": {
        "calc/stats.py": _PY_STATS,
        "tests/test_stats.py": _PY_TEST_MEAN,
        OUTCOMES_MD: _OUTCOME,
    },
    # scope calc/convert.py 5/5 = 100%
    "type-error": {
        "calc/convert.py": _PY_CONVERT,
        "tests/test_convert.py": _PY_TEST_CONVERT,
        OUTCOMES_MD: _OUTCOME,
    },
    # test_sub fails; scope calc/ops.py 4/4 = 100% (voided by the failure)
    "failing-test": {
        "calc/ops.py": _PY_OPS_BUG,
        "tests/test_ops.py": _PY_TEST_SUB,
        OUTCOMES_MD: _OUTCOME,
    },
    # scope calc/ops.py 4/4 = 100%; the doc is not touched
    "no-doc": {"calc/ops.py": _PY_OPS_SUB, "tests/test_ops.py": _PY_TEST_SUB},
}

# --- TypeScript ---------------------------------------------------------------------------
# Line coverage as istanbul computes it: a line counts when it holds a statement; it is
# covered when one of its statements ran. Function declarations are not statements.

TS_MAIN: Files = {
    "package.json": (
        '{\n  "name": "calc",\n  "private": true,\n  "type": "module",\n'
        '  "scripts": { "test": "vitest run" }\n}\n'
    ),
    "tsconfig.json": (
        '{\n  "compilerOptions": {\n    "strict": true, "target": "ES2022", "module": "ESNext",\n'
        '    "moduleResolution": "Bundler", "noEmit": true, "skipLibCheck": true\n  },\n'
        '  "include": ["src", "tests"]\n}\n'
    ),
    ".gitignore": "node_modules/\ncoverage/\n",
    "README.md": "# calc\n",
    OUTCOMES_MD: "# Task outcomes\n",
    # 1 line (return), covered
    "src/ops.ts": "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
    # 2 lines, never imported: 0/2
    "src/legacy.ts": (
        "export function shout(text: string): string {\n"
        "  const cleaned = text.trim();\n  return cleaned.toUpperCase();\n}\n"
    ),
    "tests/ops.test.ts": (
        'import { expect, test } from "vitest";\nimport { add } from "../src/ops";\n\n'
        'test("adds", () => {\n  expect(add(2, 3)).toBe(5);\n});\n'
    ),
}

_TS_OPS_SUB = (
    TS_MAIN["src/ops.ts"]
    + "\nexport function sub(a: number, b: number): number {\n  return a - b;\n}\n"
)
_TS_OPS_BUG = _TS_OPS_SUB.replace("return a - b", "return a + b")
_TS_TEST_SUB = (
    'import { describe, expect, test } from "vitest";\nimport { add, sub } from "../src/ops";\n\n'
    'describe("ops", () => {\n'
    '  test("adds", () => {\n    expect(add(2, 3)).toBe(5);\n  });\n'
    '  test("subtracts", () => {\n    expect(sub(5, 3)).toBe(2);\n  });\n});\n'
)
# 7 lines with statements: 2 (if), 3 (throw), 5 (let), 6 (for), 7 (+=), 9 (return), 13 (return)
_TS_STATS = (
    "export function mean(values: number[]): number {\n"
    "  if (values.length === 0) {\n"
    '    throw new Error("mean of nothing");\n'
    "  }\n"
    "  let total = 0;\n"
    "  for (const value of values) {\n"
    "    total += value;\n"
    "  }\n"
    "  return total / values.length;\n"
    "}\n\n"
    "export function spread(values: number[]): number {\n"
    "  return Math.max(...values) - Math.min(...values);\n"
    "}\n"
)
_TS_TEST_MEAN = (
    'import { expect, test } from "vitest";\nimport { mean } from "../src/stats";\n\n'
    'test("mean", () => {\n  expect(mean([1, 2, 3])).toBe(2);\n});\n'
)
_TS_TEST_STATS = _TS_TEST_MEAN.replace("{ mean }", "{ mean, spread }") + (
    '\ntest("spread", () => {\n  expect(spread([1, 5])).toBe(4);\n});\n'
)
# tsc: TS2322 on line 2 (string is not number), TS7006 on line 5 (implicit any); 2/2 lines
_TS_CONVERT = (
    "export function toInt(text: string): number {\n  return text.trim();\n}\n\n"
    "export function double(value) {\n  return value * 2;\n}\n"
)
_TS_TEST_CONVERT = (
    'import { expect, test } from "vitest";\nimport { double, toInt } from "../src/convert";\n\n'
    'test("toInt", () => {\n  expect(toInt(" 7 ")).toBe("7");\n});\n'
    'test("double", () => {\n  expect(double(4)).toBe(8);\n});\n'
)

TS_BRANCHES: dict[str, Files] = {
    # scope src/ops.ts 2/2 + src/stats.ts 6/7 (the throw) = 8/9 = 88.88% -> "88.8%"
    "pass": {
        "src/ops.ts": _TS_OPS_SUB,
        "src/stats.ts": _TS_STATS,
        "tests/ops.test.ts": _TS_TEST_SUB,
        "tests/stats.test.ts": _TS_TEST_STATS,
        OUTCOMES_MD: _OUTCOME,
    },
    # scope src/stats.ts: lines 2, 5, 6, 7, 9 of 7 = 5/7 = 71.42% -> "71.4%"
    "low-coverage": {
        "src/stats.ts": _TS_STATS,
        "tests/stats.test.ts": _TS_TEST_MEAN,
        OUTCOMES_MD: _OUTCOME,
    },
    # scope src/convert.ts 2/2 = 100%
    "type-error": {
        "src/convert.ts": _TS_CONVERT,
        "tests/convert.test.ts": _TS_TEST_CONVERT,
        OUTCOMES_MD: _OUTCOME,
    },
    # "ops > subtracts" fails
    "failing-test": {
        "src/ops.ts": _TS_OPS_BUG,
        "tests/ops.test.ts": _TS_TEST_SUB,
        OUTCOMES_MD: _OUTCOME,
    },
    # scope src/ops.ts 2/2 = 100%; the doc is not touched
    "no-doc": {"src/ops.ts": _TS_OPS_SUB, "tests/ops.test.ts": _TS_TEST_SUB},
}


@attrs.frozen
class Checkout:
    """A branch checked out in its own worktree, and what it changed against ``main``."""

    path: Path
    branch: str
    changed_files: tuple[str, ...]


def write_files(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (path -> text) under ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _commit(root: Path, message: str) -> None:
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", message, cwd=root)


def build_repo(
    root: Path,
    main: Mapping[str, str],
    branches: Mapping[str, Mapping[str, str]],
    *,
    node_modules: Path | None = None,
) -> dict[str, Checkout]:
    """Create a repository at ``root/repo`` and one worktree per branch under ``root``.

    Args:
        root: An empty directory.
        main: The files of the first commit on ``main``.
        branches: Branch suffix -> files that ``task/<suffix>`` writes on top of ``main``.
        node_modules: Linked as ``node_modules`` into every worktree when given.
    """
    repo = root / "repo"
    repo.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=repo)
    write_files(repo, main)
    _commit(repo, "Initial package")
    checkouts = {}
    for name, files in branches.items():
        branch = f"task/{name}"
        tree = root / name
        git("worktree", "add", "-q", "-b", branch, str(tree), "main", cwd=repo)
        write_files(tree, files)
        _commit(tree, f"Task: {name}")
        changed = git("diff", "--name-only", f"main...{branch}", cwd=repo).splitlines()
        if node_modules is not None:
            (tree / "node_modules").symlink_to(node_modules, target_is_directory=True)
        checkouts[name] = Checkout(tree, branch, tuple(changed))
    return checkouts
