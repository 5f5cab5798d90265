"""Settings: every environment variable of the contract, parsed and validated once."""

from __future__ import annotations

import os
import re
import shlex
import sys
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from runner.errors import ConfigError
from runner.redact import url_password

__all__ = ["CUSTOMER_ID", "ResourceLimits", "Settings", "TokenGrant", "parse_api_tokens"]

CUSTOMER_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""What a customer id looks like (paths, bodies, tokens' customer lists, workspace names)."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LEVELS = {"debug", "info", "warning", "error", "critical"}
_CUSTOMER_ID = re.compile(CUSTOMER_ID)


@attrs.frozen
class TokenGrant:
    """One API token and the customers it reaches (``("*",)`` = all)."""

    token_id: str
    customers: tuple[str, ...]

    def allows(self, customer_id: str) -> bool:
        """Return whether this token may act for ``customer_id``."""
        return "*" in self.customers or customer_id in self.customers


@attrs.frozen
class ResourceLimits:
    """rlimits applied to tool and verify processes (0 = unlimited)."""

    address_space_mb: int = 8192
    cpu_seconds: int = 3600
    file_size_mb: int = 1024
    open_files: int = 4096
    processes: int = 0


def parse_api_tokens(raw: str) -> dict[str, TokenGrant]:
    """Parse ``token=cust-a,cust-b;token2=*`` into a token -> grant map.

    The token id (used in audit rows) is ``tok<N>`` by position, never the token itself.
    """
    grants: dict[str, TokenGrant] = {}
    for index, part in enumerate(p.strip() for p in raw.split(";")):
        if not part:
            continue
        token, sep, customers = part.partition("=")
        token = token.strip()
        names = tuple(c.strip() for c in customers.split(",") if c.strip())
        if not sep or not token or not names:
            raise ConfigError("RUNNER_API_TOKENS", f"entry {index + 1} is not token=customers")
        for name in names:
            if name != "*" and not _CUSTOMER_ID.match(name):
                raise ConfigError("RUNNER_API_TOKENS", f"bad customer id {name!r}")
        grants[token] = TokenGrant(token_id=f"tok{index + 1}", customers=names)
    return grants


class _Env:
    """Typed readers over an environment mapping; errors name the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        value = self._environ.get(name, "").strip()
        return value or default

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def integer(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, f"expected an integer, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise ConfigError(name, f"must be {bound}, got {value}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, f"expected a number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(name, f"must be >= {minimum}, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._environ.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(name, f"expected true or false, got {raw!r}")

    def choice(self, name: str, default: str, choices: set[str]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise ConfigError(name, f"expected one of {', '.join(sorted(choices))}, got {value!r}")
        return value


_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_KEY$", re.I)
_RUNNER_AIDER_VARIABLES = {"AIDER_PATH", "AIDER_ARGS", "AIDER_MODEL", "AIDER_EDIT_FORMAT"}


def _is_model_variable(name: str) -> bool:
    """Whether a variable belongs to the model (keys, endpoints, aider's own settings)."""
    return name.endswith(("_API_KEY", "_API_BASE")) or name.startswith("AIDER_")


def _verify_env(names: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Read the ``VERIFY_ENV`` allowlist: service variables handed to VERIFY's processes."""
    picked: dict[str, str] = {}
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        if _SECRET_NAME.search(name) or _is_model_variable(name):
            raise ConfigError("VERIFY_ENV", f"{name} looks like a secret; it is never passed on")
        if name in environ:
            picked[name] = environ[name]
    return picked


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_DEFAULT_DATABASE_PATH = Path("var/runner.db")


def _database(url: str) -> tuple[Path, str | None]:
    """Read ``DATABASE_URL``: the SQLite file, or a PostgreSQL URL (and the default file)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path:
            return Path(path), None
    if url.startswith(_POSTGRES_SCHEMES) and urllib.parse.urlsplit(url).hostname:
        return _DEFAULT_DATABASE_PATH, url
    raise ConfigError(
        "DATABASE_URL", "expected sqlite:///<path> or postgresql://[user[:password]@]host[/db]"
    )


@attrs.frozen
class Settings:
    """Frozen service configuration; build it with :meth:`from_env`."""

    host: str = "127.0.0.1"
    port: int = 8081
    base_url: str | None = None
    workspace_dir: Path = Path("var/workspace")
    database_path: Path = _DEFAULT_DATABASE_PATH
    postgres_url: str | None = attrs.field(default=None, repr=False)
    """``DATABASE_URL`` when it is ``postgresql://``: the store is then PostgreSQL."""
    git_username: str | None = None
    git_token: str | None = attrs.field(default=None, repr=False)
    git_author_name: str = "devteam-runner"
    git_author_email: str = "devteam-runner@localhost"
    aider_path: str = "aider"
    aider_model: str | None = None
    aider_args: tuple[str, ...] = ()
    aider_edit_format: str = "diff"
    tool_command: tuple[str, ...] = ()
    model_env: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    python_path: str = sys.executable
    node_path: str = "node"
    tool_timeout_s: float = 600.0
    tool_retry_limit: int = 3
    transient_retries: int = 4
    transient_backoff_s: float = 5.0
    verify_timeout_s: float = 900.0
    verify_test_timeout_s: float = 600.0
    verify_env: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    deps_cache_dir: Path | None = None
    git_timeout_s: float = 300.0
    max_parallel_jobs: int = 5
    idempotency_ttl_hours: float = 24.0
    idempotency_wait_s: float = 30.0
    lease_ttl_s: float = 15.0
    """How long an instance keeps a customer without renewing (instances sharing PostgreSQL)."""
    cleanup_age_hours: float = 24.0
    events_keep_per_customer: int = 10_000
    allow_local_repos: bool = True
    api_tokens: Mapping[str, TokenGrant] = attrs.field(factory=dict, repr=False)
    log_level: str = "info"
    log_format: str = "json"
    limits: ResourceLimits = ResourceLimits()
    inbox_size: int = 64
    subscriber_queue_size: int = 256
    subscriber_queue_bytes: int = 256 * 1024
    ws_send_buffer_bytes: int = 256 * 1024
    max_body_bytes: int = 1024 * 1024
    output_cap_bytes: int = 64 * 1024
    max_task_list_bytes: int = 5 * 1024 * 1024
    ws_ping_interval_s: float = 20.0
    min_free_mb: int = 500

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value, for the redactor."""
        database_password = url_password(self.postgres_url) if self.postgres_url else None
        values = [
            self.git_token or "",
            database_password or "",
            *self.model_env.values(),
            *self.api_tokens,
        ]
        return tuple(v for v in values if v)

    @property
    def dependency_cache(self) -> Path:
        """Where installed dependencies are kept, one directory per lock-file hash."""
        if self.deps_cache_dir is not None:
            return self.deps_cache_dir
        return self.workspace_dir / ".runner" / "deps"

    @property
    def auth_enabled(self) -> bool:
        """Whether bearer tokens are required."""
        return bool(self.api_tokens)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Parse and validate the environment; ``overrides`` (CLI flags) win.

        Raises:
            ConfigError: naming the first variable with a bad value.
        """
        env = _Env(os.environ if environ is None else environ)
        raw_env = os.environ if environ is None else environ
        try:
            aider_args = tuple(shlex.split(env.text("AIDER_ARGS", "")))
            tool_command = tuple(shlex.split(env.text("TOOL_COMMAND", "")))
        except ValueError as exc:
            raise ConfigError("AIDER_ARGS", f"cannot split: {exc}") from None
        model_env = {
            k: v
            for k, v in raw_env.items()
            if v and _is_model_variable(k) and k not in _RUNNER_AIDER_VARIABLES
        }
        database_path, postgres_url = _database(
            env.text("DATABASE_URL", "sqlite:///./var/runner.db")
        )
        values: dict[str, Any] = {
            "host": env.text("DEVTEAM_RUNNER_HOST", "127.0.0.1"),
            "port": env.integer("DEVTEAM_RUNNER_PORT", 8081, maximum=65535),
            "base_url": env.optional("DEVTEAM_RUNNER_BASE_URL"),
            "workspace_dir": Path(env.text("WORKSPACE_DIR", "var/workspace")),
            "database_path": database_path,
            "postgres_url": postgres_url,
            "git_username": env.optional("GIT_USERNAME"),
            "git_token": env.optional("GIT_TOKEN"),
            "git_author_name": env.text("GIT_AUTHOR_NAME", "devteam-runner"),
            "git_author_email": env.text("GIT_AUTHOR_EMAIL", "devteam-runner@localhost"),
            "aider_path": env.text("AIDER_PATH", "aider"),
            "aider_model": env.optional("AIDER_MODEL"),
            "aider_args": aider_args,
            "aider_edit_format": env.text("AIDER_EDIT_FORMAT", "diff"),
            "tool_command": tool_command,
            "model_env": model_env,
            "python_path": env.text("PYTHON_PATH", sys.executable),
            "node_path": env.text("NODE_PATH", "node"),
            "tool_timeout_s": env.number("TOOL_TIMEOUT_S", 600.0, minimum=0.1),
            "tool_retry_limit": env.integer("TOOL_RETRY_LIMIT", 3),
            "transient_retries": env.integer("TRANSIENT_RETRIES", 4),
            "transient_backoff_s": env.number("TRANSIENT_BACKOFF_S", 5.0),
            "verify_timeout_s": env.number("VERIFY_TIMEOUT_S", 900.0, minimum=0.1),
            "verify_test_timeout_s": env.number("VERIFY_TEST_TIMEOUT_S", 600.0, minimum=0.1),
            "verify_env": _verify_env(env.text("VERIFY_ENV", ""), raw_env),
            "deps_cache_dir": _optional_path(env.optional("DEPS_CACHE_DIR")),
            "git_timeout_s": env.number("GIT_TIMEOUT_S", 300.0, minimum=0.1),
            "max_parallel_jobs": env.integer("MAX_PARALLEL_JOBS", 5, minimum=1),
            "idempotency_ttl_hours": env.number("IDEMPOTENCY_TTL_HOURS", 24.0),
            "idempotency_wait_s": env.number("IDEMPOTENCY_WAIT_S", 30.0),
            "lease_ttl_s": env.number("LEASE_TTL_S", 15.0, minimum=0.5),
            "cleanup_age_hours": env.number("CLEANUP_AGE_HOURS", 24.0),
            "events_keep_per_customer": env.integer("EVENTS_KEEP_PER_CUSTOMER", 10_000, minimum=1),
            "allow_local_repos": env.flag("ALLOW_LOCAL_REPOS", True),
            "max_task_list_bytes": env.integer(
                "MAX_TASK_LIST_BYTES", 5 * 1024 * 1024, minimum=1024
            ),
            "min_free_mb": env.integer("MIN_FREE_MB", 500),
            "api_tokens": parse_api_tokens(env.text("RUNNER_API_TOKENS", "")),
            "log_level": env.choice("LOG_LEVEL", "info", _LEVELS),
            "log_format": env.choice("LOG_FORMAT", "json", {"json", "console"}),
            "limits": ResourceLimits(
                address_space_mb=env.integer("TOOL_LIMIT_AS_MB", 8192),
                cpu_seconds=env.integer("TOOL_LIMIT_CPU_S", 3600),
                file_size_mb=env.integer("TOOL_LIMIT_FSIZE_MB", 1024),
                open_files=env.integer("TOOL_LIMIT_NOFILE", 4096),
                processes=env.integer("TOOL_LIMIT_NPROC", 0),
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
