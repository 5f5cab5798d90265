"""The import rules of STYLE.md §1, checked by walking every module's imports (ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "runner"

# Higher layers may import lower ones, never the reverse. Leaves: anyone may import them.
LAYERS = {"api": 4, "actors": 3, "pipeline": 2, "tasks": 1, "git": 1, "tools": 0, "verify": 1}
LEAVES = {
    "errors", "failures", "config", "redact", "store", "metrics", "logging", "clock", "paths",
    "process", "wire", "__init__",
}  # fmt: skip
TOP = {"app", "cli", "serve", "terminal", "__main__", "client"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _part(module: Path) -> str:
    relative = module.relative_to(RUNNER)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


MODULES = sorted(RUNNER.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(RUNNER)))
def test_imports_follow_the_layers(module: Path) -> None:
    source = _part(module)
    for name in _imports(module):
        if not name.startswith("runner."):
            continue
        target = name.split(".")[1]
        if target == source or target in LEAVES:
            continue
        assert target != "api" or source == "app", f"{module}: only app.py imports api"
        assert target not in TOP or source in TOP, f"{module} imports the top-level {name}"
        if source in LAYERS and target in LAYERS:
            assert LAYERS[target] < LAYERS[source], f"{module} imports upward: {name}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(RUNNER)))
def test_other_subpackages_are_imported_through_their_package(module: Path) -> None:
    source = _part(module)
    for name in _imports(module):
        parts = name.split(".")
        if len(parts) > 2 and parts[0] == "runner" and parts[1] != source:
            package = RUNNER / parts[1]
            assert not package.is_dir(), (
                f"{module} reaches into {name}; import from runner.{parts[1]}"
            )


def test_tasks_is_pure() -> None:
    for module in (RUNNER / "tasks").glob("*.py"):
        for name in _imports(module):
            root = name.split(".")[0]
            assert root not in {"trio", "os", "subprocess", "sqlite3", "socket", "pydantic"}, (
                f"{module} imports {name}: runner.tasks is pure"
            )


def test_only_store_imports_the_database_drivers() -> None:
    for module in MODULES:
        if _part(module) != "store":
            roots = {name.split(".")[0] for name in _imports(module)}
            assert not roots & {"sqlite3", "psycopg"}, module


def test_domain_code_never_imports_pydantic() -> None:
    for module in MODULES:
        if _part(module) not in {"api", "app"}:
            assert not any(n.split(".")[0] == "pydantic" for n in _imports(module)), module


# One concept seen from two layers (the API's view of customers and their store, the HTTP
# rendering of errors and the errors, a package's shared definitions) may share a name.
SAME_CONCEPT = {"__init__", "base", "customers", "errors", "idempotency"}


def test_one_module_name_one_concept() -> None:
    stems = [module.stem for module in MODULES]
    shared = {stem for stem in stems if stems.count(stem) > 1}
    assert shared <= SAME_CONCEPT, shared - SAME_CONCEPT
