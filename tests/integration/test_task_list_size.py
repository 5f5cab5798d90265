"""A task list over MAX_TASK_LIST_BYTES is refused with a clear error, before it is parsed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from runner.pipeline import PipelineStages
from tests.helpers.calc_repo import FILES, TASKS
from tests.helpers.gitrepo import make_remote
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

LIMIT = 4096


@pytest.fixture
async def small_limit_service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = service_settings(tmp_path, max_task_list_bytes=LIMIT)
    with trio.fail_after(60):
        async with running_service(settings, PipelineStages()) as svc:
            yield svc


async def test_task_list_over_the_limit_is_422_task_list_too_large(
    small_limit_service: Service, tmp_path: Path
) -> None:
    padding = "\n".join(f"<!-- note {n} -->" for n in range(400))  # ~7 KB of comments
    big = make_remote(
        tmp_path / "big.git", {**FILES, "docs/DevTeam/tasks_list.md": TASKS + padding}
    )
    small = make_remote(tmp_path / "small.git", FILES)
    async with small_limit_service.client() as client:
        await client.put("/customers/big", json={"repoUrl": str(big)})
        await client.put("/customers/small", json={"repoUrl": str(small)})
        first = await client.get("/tasks/next", params={"customerId": "big"})  # read from disk
        again = await client.get("/tasks/next", params={"customerId": "big"})  # read from git
        fine = await client.get("/tasks/next", params={"customerId": "small"})
    for response in (first, again):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "task_list_too_large"
        assert "MAX_TASK_LIST_BYTES" in error["message"]
    assert fine.status_code == 200, fine.text
    assert fine.json()["task"]["id"] == "1.1.1"
