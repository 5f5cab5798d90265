from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
import trio

from runner.pipeline import PipelineStages
from tests.helpers.browser import Browser, missing
from tests.helpers.calc_repo import make_calc_remote, make_tool
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from runner.config import Settings

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_calc_remote(tmp_path)


@pytest.fixture
def tool_dir(tmp_path: Path) -> Path:
    return tmp_path / "tool"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A real pipeline on loopback with the scripted tool (the ``command`` tool)."""
    return service_settings(
        tmp_path, tool_command=make_tool(tmp_path), python_path=sys.executable, tool_timeout_s=120.0
    )


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    with trio.fail_after(240):
        async with running_service(settings, PipelineStages()) as svc:
            yield svc


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    async with Browser() as b:
        yield b
