"""Fixtures for the store tests: a real SQLite file in tmp_path."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from runner.store import SqliteStore, open_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return a database path whose directory does not exist yet."""
    return tmp_path / "var" / "runner.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """Yield an open store on a fresh file; close it afterwards."""
    async with open_store(db_path) as opened:
        yield opened
