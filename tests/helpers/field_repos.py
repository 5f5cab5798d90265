"""Repositories as the field has them, for VERIFY: fresh clones, red bases, drifting locks.

Each fixture is a bare remote whose ``main`` already has a failing test (so a branch is
judged against a red base) and task branches on top. :func:`clone_branch` makes a fresh
clone of one branch, as PREP would: no ``node_modules``, no caches.

- ``js``: a React-style JS app tested with jest + babel, ESM sources, a ``package.json``
  whose lock file is out of sync (a ``file:`` dev dependency missing from the lock), and that
  dev dependency's ``install`` script would download a browser (it fails if it runs).
- ``ts``: a TypeScript app with vitest + istanbul and tsc, lock file in sync.
- ``py``: a Python ``src/`` layout package with pytest.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.helpers.gitrepo import git
from tests.helpers.verify_repos import write_files

__all__ = ["FIXTURES", "build_remote", "clone_branch"]

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
Files = dict[str, str]


def _toolchain(name: str) -> tuple[dict[str, object], str]:
    folder = FIXTURES_DIR / name
    package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    return package, (folder / "package-lock.json").read_text(encoding="utf-8")


def _fake_browser_tgz() -> bytes:
    """A dev dependency whose install script would fetch a browser (and fails offline)."""
    files = {
        "package/package.json": json.dumps(
            {
                "name": "fake-browser",
                "version": "1.0.0",
                "scripts": {"install": "node download.js"},
            }
        ),
        "package/download.js": (
            "console.error('downloading a browser build from the internet...');\nprocess.exit(1);\n"
        ),
        "package/index.js": "module.exports = {};\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_JEST_PACKAGE, _JEST_LOCK = _toolchain("jest-toolchain")
_TS_PACKAGE, _TS_LOCK = _toolchain("ts-toolchain")

_JS_ADD = "export function add(a, b) {\n  return a + b;\n}\n"
_JS_MAIN: Files = {
    "package.json": json.dumps(
        {
            "name": "shop",
            "private": True,
            "scripts": {"test": "jest"},
            "devDependencies": {
                **_JEST_PACKAGE["devDependencies"],  # type: ignore[dict-item]
                "fake-browser": "file:vendor/fake-browser-1.0.0.tgz",  # not in the lock
            },
        },
        indent=2,
    ),
    "package-lock.json": _JEST_LOCK,
    "babel.config.cjs": "module.exports = { presets: [['@babel/preset-env', "
    "{ targets: { node: 'current' } }]] };\n",
    "jest.config.cjs": "module.exports = { testEnvironment: 'node' };\n",
    ".gitignore": "node_modules/\ncoverage/\n",
    "src/add.js": _JS_ADD,
    "tests/add.test.js": (
        "import { add } from '../src/add';\n\n"
        "test('adds', () => {\n  expect(add(2, 3)).toBe(5);\n});\n"
    ),
    "docs/DevTeam/tasks_list.md": (
        "# Tasks\n\nPhase 1 — Shop (Dependencies: none)\n\n1.1 Prices (Dependencies: none)\n"
        "1.1.1 Add sub function to [src/sub.js](src/sub.js).\n"
    ),
    # red on the base already: the team knows, the task is not to blame
    "tests/legacy.test.js": (
        "test('legacy rounding', () => {\n  expect(0.1 + 0.2).toBe(0.3);\n});\n"
    ),
}
_JS_SUB = "export function sub(a, b) {\n  return a - b;\n}\n"
_JS_SUB_TEST = (
    "import { sub } from '../src/sub';\n\n"
    "test('subtracts', () => {\n  expect(sub(5, 3)).toBe(2);\n});\n"
)
_JS_BRANCHES: dict[str, Files] = {
    "good": {"src/sub.js": _JS_SUB, "tests/sub.test.js": _JS_SUB_TEST},
    "untested": {"src/sub.js": _JS_SUB, "src/discount.js": _JS_SUB.replace("sub", "discount")},
    "breaks": {"src/add.js": _JS_ADD.replace("a + b", "a - b")},
    "hangs": {
        "src/sub.js": _JS_SUB,
        "tests/sub.test.js": _JS_SUB_TEST.replace(
            "expect(sub(5, 3))",
            "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);\n  expect(sub(5, 3))",
        ),
    },
}

_TS_MAIN: Files = {
    "package.json": json.dumps(
        {
            "name": "calc",
            "private": True,
            "type": "module",
            "scripts": {"test": "vitest run"},
            "devDependencies": _TS_PACKAGE["devDependencies"],
        },
        indent=2,
    ),
    "package-lock.json": _TS_LOCK,
    "tsconfig.json": json.dumps(
        {
            "compilerOptions": {
                "strict": True,
                "target": "ES2022",
                "module": "ESNext",
                "moduleResolution": "Bundler",
                "noEmit": True,
                "skipLibCheck": True,
            },
            "include": ["src", "tests"],
        }
    ),
    ".gitignore": "node_modules/\ncoverage/\n",
    "src/ops.ts": "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
    "tests/ops.test.ts": (
        'import { expect, test } from "vitest";\nimport { add } from "../src/ops";\n\n'
        'test("adds", () => {\n  expect(add(2, 3)).toBe(5);\n});\n'
    ),
    "tests/legacy.test.ts": (
        'import { expect, test } from "vitest";\n\n'
        'test("legacy", () => {\n  expect(0.1 + 0.2).toBe(0.3);\n});\n'
    ),
}
_TS_SUB = "export function sub(a: number, b: number): number {\n  return a - b;\n}\n"
_TS_BRANCHES: dict[str, Files] = {
    "good": {
        "src/sub.ts": _TS_SUB,
        "tests/sub.test.ts": (
            'import { expect, test } from "vitest";\nimport { sub } from "../src/sub";\n\n'
            'test("subtracts", () => {\n  expect(sub(5, 3)).toBe(2);\n});\n'
        ),
    },
    "untested": {"src/sub.ts": _TS_SUB},
}

_PY_OPS = "def add(a: int, b: int) -> int:\n    return a + b\n"
_PY_MAIN: Files = {
    "pyproject.toml": (
        '[project]\nname = "calc"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["src"]\n'
        'addopts = "-p no:schemathesis -p no:hypothesispytest -p no:trio -p no:anyio"\n'
    ),
    ".gitignore": "__pycache__/\n.coverage\n",
    "src/calc/__init__.py": "",
    "src/calc/ops.py": _PY_OPS,
    "tests/test_ops.py": (
        "from calc.ops import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    ),
    "tests/test_legacy.py": "def test_legacy() -> None:\n    assert 0.1 + 0.2 == 0.3\n",
}
_PY_SUB = "def sub(a: int, b: int) -> int:\n    return a - b\n"
_PY_BRANCHES: dict[str, Files] = {
    "good": {
        "src/calc/sub.py": _PY_SUB,
        "tests/test_sub.py": (
            "from calc.sub import sub\n\n\ndef test_sub() -> None:\n    assert sub(5, 3) == 2\n"
        ),
    },
    "untested": {"src/calc/sub.py": _PY_SUB},
    "breaks": {"src/calc/ops.py": _PY_OPS.replace("a + b", "a - b")},
    "hangs": {
        "src/calc/sub.py": _PY_SUB,
        "tests/test_sub.py": (
            "import time\n\nfrom calc.sub import sub\n\n\n"
            "def test_sub() -> None:\n    time.sleep(3600)\n    assert sub(5, 3) == 2\n"
        ),
    },
}

FIXTURES: dict[str, tuple[Files, dict[str, Files]]] = {
    "js": (_JS_MAIN, _JS_BRANCHES),
    "ts": (_TS_MAIN, _TS_BRANCHES),
    "py": (_PY_MAIN, _PY_BRANCHES),
}


def build_remote(root: Path, kind: str) -> Path:
    """Build the bare remote of fixture ``kind`` (``js``, ``ts``, ``py``) under ``root``."""
    main, branches = FIXTURES[kind]
    work = root / f"{kind}-work"
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    write_files(work, main)
    if kind == "js":
        (work / "vendor").mkdir()
        (work / "vendor" / "fake-browser-1.0.0.tgz").write_bytes(_fake_browser_tgz())
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Base: one test already red", cwd=work)
    for name, files in branches.items():
        git("checkout", "-q", "-b", f"task/{name}", "main", cwd=work)
        write_files(work, files)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"Task: {name}", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    remote = root / f"{kind}.git"
    git("clone", "-q", "--bare", str(work), str(remote), cwd=root)
    return remote


def clone_branch(remote: Path, branch: str, into: Path) -> tuple[Path, list[str]]:
    """Clone ``remote`` fresh, check out ``task/<branch>``; return it and its changed files."""
    git("clone", "-q", str(remote), str(into), cwd=into.parent)
    git("checkout", "-q", "-b", f"task/{branch}", f"origin/task/{branch}", cwd=into)
    git("branch", "-q", "-f", "main", "origin/main", cwd=into)
    changed = git("diff", "--name-only", f"main...task/{branch}", cwd=into).splitlines()
    return into, changed
