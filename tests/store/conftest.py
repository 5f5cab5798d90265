"""Fixtures for the store tests: each contract test runs on a real SQLite file and on a
real PostgreSQL database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest

from runner.store import Store, open_database

if TYPE_CHECKING:
    import contextlib
    from collections.abc import AsyncIterator


@attrs.frozen
class Database:
    """One empty test database of either engine; :meth:`open` opens it (again)."""

    engine: str
    path: Path
    url: str | None = attrs.field(default=None, repr=False)

    def open(self) -> contextlib.AbstractAsyncContextManager[Store]:
        """Open the store on this database (a second open is a restart)."""
        return open_database(self.path, self.url)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return a database path whose directory does not exist yet."""
    return tmp_path / "var" / "runner.db"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, db_path: Path) -> Database:
    """An empty database: a SQLite file, or a fresh database on the session's server."""
    if request.param == "sqlite":
        return Database("sqlite", db_path)
    server = request.getfixturevalue("postgres_server")
    return Database("postgres", db_path, server.create_database())


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    """Yield an open store on a fresh database; close it afterwards."""
    async with database.open() as opened:
        yield opened
