"""Fixtures for the task-list tests: the real lists under ``../shared/fixtures/real``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from runner.tasks import Group, Task, TaskList

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "real"
REAL_LISTS = sorted(REAL_FIXTURES.glob("**/tasks_list.md")) if REAL_FIXTURES.is_dir() else []


def read_real(relative: str) -> str:
    """Return a file under the real fixtures, skipping the test when the folder is absent."""
    path = REAL_FIXTURES / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared/fixtures is expected beside the clone)")
    return path.read_text(encoding="utf-8")


def get(task_list: TaskList, task_id: str) -> Task:
    """Return the task, failing the test when it is missing."""
    task = task_list.get(task_id)
    assert task is not None, f"no task {task_id}"
    return task


def get_group(task_list: TaskList, group_id: str) -> Group:
    """Return the group, failing the test when it is missing."""
    found = task_list.group(group_id)
    assert found is not None, f"no group {group_id}"
    return found
