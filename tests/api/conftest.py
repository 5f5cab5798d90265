from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import Service, running_service, service_settings


@pytest.fixture
def stages() -> FakeStages:
    return FakeStages()


@pytest.fixture
async def service(tmp_path: Path, stages: FakeStages) -> AsyncIterator[Service]:
    with trio.fail_after(60):
        async with running_service(service_settings(tmp_path), stages) as svc:
            yield svc
