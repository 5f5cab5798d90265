"""Find out how to verify a repository: its ``.devteam.toml`` and its toolchain.

The repository's ``.devteam.toml`` ``[verify]`` table wins::

    [verify]
    setup = "npm ci"                       # a string runs under ``sh -c``; a list is argv
    test = ["pytest", "-q"]
    typecheck = "pyright"
    lint = "ruff check ."
    coverage_report = "coverage.json"      # what a custom ``test`` command writes
    install_scripts = false                # run npm install scripts (off: --ignore-scripts)
    strict = false                         # any failing test fails, also one failing on the base

    [verify.env]                           # variables for setup and gate commands
    NODE_ENV = "test"

Otherwise the toolchain is detected: ``package.json`` (with a ``test`` script, or without
Python markers) is Node, ``pyproject.toml`` / ``setup.py`` / ``setup.cfg`` /
``requirements.txt`` is Python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from runner.errors import InvalidInputError, VerifyError
from runner.paths import path_in_repo, relative_path

if TYPE_CHECKING:
    from runner.config import ResourceLimits

__all__ = [
    "CONFIG_FILE",
    "Command",
    "Toolchain",
    "VerifyConfig",
    "child_environment",
    "detect_toolchain",
    "load_verify_config",
    "node_limits",
]

CONFIG_FILE = ".devteam.toml"
MAX_CONFIG_BYTES = 256 * 1024
"""A larger ``.devteam.toml`` is refused (it is read on every VERIFY)."""
_PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt")
_SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
_COMMAND_KEYS = ("setup", "test", "typecheck", "lint")
_OTHER_KEYS = ("coverage_report", "env", "install_scripts", "strict")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_ENV = {"PATH", "HOME", "TMPDIR"}  # the runner sets these for its own reasons

Command = tuple[str, ...]
"""An argv; configured strings become ``("sh", "-c", text)``."""


@attrs.frozen
class VerifyConfig:
    """The repository's ``[verify]`` overrides (None = detect)."""

    setup: Command | None = None
    test: Command | None = None
    typecheck: Command | None = None
    lint: Command | None = None
    coverage_report: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)
    install_scripts: bool = False
    strict: bool = False


def _bad_config(message: str) -> VerifyError:
    return VerifyError(f"{CONFIG_FILE}: {message}", code="verify_failed")


def _command(key: str, value: Any) -> Command:
    if isinstance(value, str) and value.strip():
        return ("sh", "-c", value)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, str) and v for v in value)  # argv items
    ):
        return tuple(value)
    raise _bad_config(f"[verify].{key} must be a command string or a list of strings")


def read_config(repo: Path) -> dict[str, Any]:
    """Return ``repo/.devteam.toml`` parsed (empty when absent), for every stage that reads it.

    Raises:
        InvalidInputError: (field ``.devteam.toml``) a link out of the repository, larger than
            :data:`MAX_CONFIG_BYTES`, not UTF-8 or not valid TOML.
    """
    path = repo / CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        return {}

    def bad(message: str) -> InvalidInputError:
        return InvalidInputError(message, field=CONFIG_FILE)

    try:
        path_in_repo(repo, CONFIG_FILE, CONFIG_FILE)
    except InvalidInputError:
        raise bad("is a link out of the repository") from None
    if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
        raise bad(f"must be a file of at most {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, UnicodeDecodeError) as exc:
        raise bad(f"cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise bad(f"not valid TOML: {exc}") from None


def load_verify_config(repo: Path) -> VerifyConfig:
    """Read and validate ``repo/.devteam.toml`` ``[verify]`` (an absent file is no override).

    Raises:
        VerifyError: ``verify_failed`` when the file or the table is malformed.
    """
    try:
        data = read_config(repo)
    except InvalidInputError as exc:
        raise _bad_config(exc.message) from None
    table = data.get("verify", {})
    if not isinstance(table, dict):
        raise _bad_config("[verify] must be a table")
    unknown = sorted(set(table) - {*_COMMAND_KEYS, *_OTHER_KEYS})
    if unknown:
        raise _bad_config(f"unknown [verify] keys: {', '.join(unknown)}")
    commands = {key: _command(key, table[key]) for key in _COMMAND_KEYS if key in table}
    report = table.get("coverage_report")
    if report is not None and (not isinstance(report, str) or not report.strip()):
        raise _bad_config("[verify].coverage_report must be a path")
    if report is not None:
        try:
            report = relative_path(report, "[verify].coverage_report")
        except InvalidInputError as exc:
            raise _bad_config(f"[verify].coverage_report: {exc.message}") from None
    return VerifyConfig(
        **commands,
        coverage_report=report,
        env=_env_table(table.get("env", {})),
        install_scripts=_flag("install_scripts", table.get("install_scripts", False)),
        strict=_flag("strict", table.get("strict", False)),
    )


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad_config(f"[verify].{key} must be true or false")
    return value


def _env_table(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _bad_config('[verify.env] must be a table of NAME = "value"')
    env: dict[str, str] = {}
    for name, item in value.items():
        if not _ENV_NAME.match(name) or name in _RESERVED_ENV:
            raise _bad_config(f"[verify.env]: {name!r} cannot be set")
        if not isinstance(item, str | int | float | bool):
            raise _bad_config(f"[verify.env].{name} must be a string")
        env[name] = str(item).lower() if isinstance(item, bool) else str(item)
    return env


@attrs.frozen
class Toolchain:
    """The detected language and the interpreters that verify it.

    Attributes:
        language: ``python``, ``node``, or ``unknown`` (only configured commands work).
        python: Absolute path of ``PYTHON_PATH`` (None if it does not resolve).
        node: Absolute path of ``NODE_PATH`` (None if it does not resolve).
        npm: ``npm`` next to node, else on the system PATH.
        path: The child processes' ``PATH``: the interpreters' directories, then the system's.
        package: ``package.json`` contents for Node repositories.
    """

    language: Literal["python", "node", "unknown"]
    python: str | None
    node: str | None
    npm: str | None
    path: str
    package: dict[str, Any] = attrs.field(factory=dict)

    @property
    def test_script(self) -> str | None:
        """The ``package.json`` ``test`` script, if any."""
        scripts = self.package.get("scripts")
        script = scripts.get("test") if isinstance(scripts, dict) else None
        return script if isinstance(script, str) and script.strip() else None

    def require_python(self) -> str:
        """Return the Python interpreter or raise ``verify_failed`` saying it is missing."""
        if self.python is None:
            raise VerifyError(
                "Python interpreter not found (set PYTHON_PATH)", code="verify_failed"
            )
        return self.python

    def require_node(self) -> str:
        """Return the Node interpreter or raise ``verify_failed`` saying it is missing."""
        if self.node is None:
            raise VerifyError("node not found (set NODE_PATH)", code="verify_failed")
        return self.node

    def require_npm(self) -> str:
        """Return npm or raise ``verify_failed`` saying it is missing."""
        self.require_node()
        if self.npm is None:
            raise VerifyError("npm not found next to node", code="verify_failed")
        return self.npm


def _resolve(program: str) -> str | None:
    found = shutil.which(program)
    return str(Path(found).absolute()) if found else None


def _read_package(repo: Path) -> dict[str, Any]:
    try:
        data = json.loads((repo / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VerifyError(f"package.json cannot be read: {exc}", code="verify_failed") from None
    if not isinstance(data, dict):
        raise VerifyError("package.json is not a JSON object", code="verify_failed")
    return data


def detect_toolchain(repo: Path, *, python_path: str, node_path: str) -> Toolchain:
    """Detect the repository's language and resolve its interpreters.

    Raises:
        VerifyError: ``verify_failed`` when ``package.json`` is unreadable.
    """
    has_python = any((repo / marker).is_file() for marker in _PYTHON_MARKERS)
    package = _read_package(repo) if (repo / "package.json").is_file() else None
    python, node = _resolve(python_path), _resolve(node_path)
    npm = None
    if node is not None:
        beside = Path(node).parent / "npm"
        npm = str(beside) if beside.is_file() else _resolve("npm")
    dirs = [str(Path(p).parent) for p in (python, node) if p is not None]
    path = ":".join(dict.fromkeys([*dirs, *_SYSTEM_PATH]))
    if package is not None:
        chain = Toolchain("node", python, node, npm, path, package)
        if chain.test_script is not None or not has_python:
            return chain
    return Toolchain("python" if has_python else "unknown", python, node, npm, path)


def child_environment(path: str, work: Path) -> dict[str, str]:
    """Return the minimal environment of a verify process (no tokens, no API keys)."""
    return {
        "PATH": path,
        "HOME": os.environ.get("HOME") or str(work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(work),
        "CI": "true",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def node_limits(limits: ResourceLimits, env: dict[str, str]) -> ResourceLimits:
    """Swap the address-space rlimit for a V8 heap cap (``--max-old-space-size``).

    V8 reserves about 10 GiB of virtual address space per WebAssembly memory (guard
    regions), so any ``RLIMIT_AS`` a machine can afford makes vite/vitest die with "Cannot
    allocate Wasm memory". The heap cap bounds what node really uses instead.
    """
    if limits.address_space_mb > 0:
        env["NODE_OPTIONS"] = f"--max-old-space-size={limits.address_space_mb}"
    return attrs.evolve(limits, address_space_mb=0)
