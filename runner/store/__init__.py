"""The store: one interface, a repository per table, over SQLite or PostgreSQL.

```python
async with open_database(settings.database_path, settings.postgres_url) as store:
    await store.customers.upsert(record)
    seq = await store.events.append(customer_id, run_id, "execution-log", payload, now)
```
SQLite (:func:`open_store`) is the embedded default; PostgreSQL
(:func:`open_postgres_store`) is the database several instances can share. The repositories
are written once for both (:mod:`runner.store.sql`). Only this package imports ``sqlite3``
and ``psycopg``. Timestamps are ISO-8601 UTC strings from the caller's injected clock; the
store never reads the time itself.
"""

from runner.store.audit import AuditEntry, AuditLog, AuditRow
from runner.store.customers import CustomerRecord, Customers
from runner.store.db import Store
from runner.store.events import (
    CHANNEL,
    EventRecord,
    Events,
    NewEvent,
    StateSnapshot,
    frame_json,
)
from runner.store.idempotency import (
    Begin,
    IdempotencyRecords,
    InFlight,
    Mismatch,
    Replay,
    Started,
    normalize_timestamp,
)
from runner.store.leases import Lease, Leases, current_lease, fence, fenced
from runner.store.migrations import MIGRATIONS, Migration
from runner.store.opening import open_database
from runner.store.postgres import Notifications, PostgresStore, open_postgres_store
from runner.store.postgres_migrations import POSTGRES_MIGRATIONS
from runner.store.processes import Processes, ProcessLife, ProcessRow
from runner.store.runs import (
    TERMINAL_STATUSES,
    UNFINISHED,
    RunRecord,
    Runs,
    StageRecord,
    interrupted_error,
)
from runner.store.skips import SkipRecord, Skips
from runner.store.sql import STORE_ERROR, Connection, Dialect
from runner.store.sqlite import SqliteStore, open_store
from runner.store.steps import StepRecord, Steps

__all__ = [
    "CHANNEL",
    "MIGRATIONS",
    "POSTGRES_MIGRATIONS",
    "STORE_ERROR",
    "TERMINAL_STATUSES",
    "UNFINISHED",
    "AuditEntry",
    "AuditLog",
    "AuditRow",
    "Begin",
    "Connection",
    "CustomerRecord",
    "Customers",
    "Dialect",
    "EventRecord",
    "Events",
    "IdempotencyRecords",
    "InFlight",
    "Lease",
    "Leases",
    "Migration",
    "Mismatch",
    "NewEvent",
    "Notifications",
    "PostgresStore",
    "ProcessLife",
    "ProcessRow",
    "Processes",
    "Replay",
    "RunRecord",
    "Runs",
    "SkipRecord",
    "Skips",
    "SqliteStore",
    "StageRecord",
    "Started",
    "StateSnapshot",
    "StepRecord",
    "Steps",
    "Store",
    "current_lease",
    "fence",
    "fenced",
    "frame_json",
    "interrupted_error",
    "normalize_timestamp",
    "open_database",
    "open_postgres_store",
    "open_store",
]
