"""Pick the store's engine from the configuration: the one place that knows both."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from runner.store.postgres import open_postgres_store
from runner.store.sqlite import open_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from runner.store.db import Store

__all__ = ["open_database"]


@contextlib.asynccontextmanager
async def open_database(path: Path, postgres_url: str | None = None) -> AsyncIterator[Store]:
    """Open PostgreSQL at ``postgres_url`` when given, else the SQLite file at ``path``."""
    if postgres_url is not None:
        async with open_postgres_store(postgres_url) as store:
            yield store
    else:
        async with open_store(path) as store:
            yield store
