from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
def stages() -> FakeStages:
    return FakeStages()


@pytest.fixture
async def service(tmp_path: Path, stages: FakeStages) -> AsyncIterator[Service]:
    with trio.fail_after(60):
        async with running_service(service_settings(tmp_path), stages) as svc:
            yield svc
