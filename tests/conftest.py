"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

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
_KEEP = {"AIDER_TEST_PATH"}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Remove the runner's variables from the environment for the test's duration."""
    for name in list(os.environ):
        if name in _KEEP:
            continue
        if name in _OUR_NAMES or name.startswith(_OUR_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    return
