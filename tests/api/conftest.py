from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from runner.config import Settings


@pytest.fixture
def stages() -> FakeStages:
    return FakeStages()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The service's settings (test_on_postgres.py points them at PostgreSQL)."""
    return service_settings(tmp_path)


@pytest.fixture
async def service(settings: Settings, stages: FakeStages) -> AsyncIterator[Service]:
    with trio.fail_after(60):
        async with running_service(settings, stages) as svc:
            yield svc
