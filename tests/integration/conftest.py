from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
import trio

from runner.pipeline import PipelineStages
from tests.helpers.calc_repo import make_calc_remote, make_tool
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_calc_remote(tmp_path)


@pytest.fixture
def tool_dir(tmp_path: Path) -> Path:
    return tmp_path / "tool"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = service_settings(
        tmp_path,
        tool_command=make_tool(tmp_path),
        python_path=sys.executable,
        tool_timeout_s=120.0,
        git_token="ghp_" + "Z" * 36,
    )
    with trio.fail_after(240):
        async with running_service(settings, PipelineStages()) as svc:
            yield svc
