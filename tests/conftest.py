"""Shared fixtures: a clean environment for every test, a throwaway PostgreSQL server."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tests.helpers.postgres import PostgresServer, find_bin_dir, throwaway_postgres

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Variables the runner reads; tests must not inherit them from the developer's shell.
_OUR_PREFIXES = (
    "DEVTEAM_",
    "GIT_",
    "AIDER_",
    "RUNNER_",
    "TOOL_",
    "VERIFY_",
    "OPENAI_",
    "ANTHROPIC_",
)
_OUR_NAMES = {
    "WORKSPACE_DIR",
    "DATABASE_URL",
    "PYTHON_PATH",
    "NODE_PATH",
    "MAX_PARALLEL_JOBS",
    "IDEMPOTENCY_TTL_HOURS",
    "IDEMPOTENCY_WAIT_S",
    "CLEANUP_AGE_HOURS",
    "MIN_FREE_MB",
    "ALLOW_LOCAL_REPOS",
    "MAX_TASK_LIST_BYTES",
    "LOG_LEVEL",
    "LOG_FORMAT",
}
_KEEP = {"AIDER_TEST_PATH", "DEVTEAM_REQUIRE_POSTGRES"}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Remove the runner's variables from the environment for the test's duration."""
    for name in list(os.environ):
        if name in _KEEP:
            continue
        if name in _OUR_NAMES or name.startswith(_OUR_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    return


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start one throwaway PostgreSQL for the whole session; each test makes its database.

    ``make test`` installs PostgreSQL first and sets ``DEVTEAM_REQUIRE_POSTGRES=1``, so
    there a missing server fails every test that needs it instead of skipping it.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (no initdb/pg_ctl): apt-get install postgresql"
        if os.environ.get("DEVTEAM_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with throwaway_postgres(bin_dir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ``DATABASE_URL`` for a service started as a process: a fresh file or database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/runner.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
