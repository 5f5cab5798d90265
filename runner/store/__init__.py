"""The embedded SQLite store: one connection on its own thread, a repository per table.

```python
async with open_store(settings.database_path) as store:
    await store.customers.upsert(record)
    seq = await store.events.append(customer_id, run_id, "execution-log", payload, now)
```
Only this package imports ``sqlite3``. Timestamps are ISO-8601 UTC strings from the
caller's injected clock; the store never reads the time itself.
"""

from runner.store.audit import AuditEntry, AuditLog, AuditRow
from runner.store.customers import CustomerRecord, Customers
from runner.store.db import STORE_ERROR, SqliteStore, open_store
from runner.store.events import EventRecord, Events, NewEvent, StateSnapshot, frame_json
from runner.store.idempotency import (
    Begin,
    IdempotencyRecords,
    InFlight,
    Mismatch,
    Replay,
    Started,
    normalize_timestamp,
)
from runner.store.migrations import MIGRATIONS, Migration
from runner.store.processes import Processes, ProcessRow
from runner.store.runs import (
    TERMINAL_STATUSES,
    RunRecord,
    Runs,
    StageRecord,
    interrupted_error,
)
from runner.store.skips import SkipRecord, Skips
from runner.store.steps import StepRecord, Steps

__all__ = [
    "MIGRATIONS",
    "STORE_ERROR",
    "TERMINAL_STATUSES",
    "AuditEntry",
    "AuditLog",
    "AuditRow",
    "Begin",
    "CustomerRecord",
    "Customers",
    "EventRecord",
    "Events",
    "IdempotencyRecords",
    "InFlight",
    "Migration",
    "Mismatch",
    "NewEvent",
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
    "frame_json",
    "interrupted_error",
    "normalize_timestamp",
    "open_store",
]
