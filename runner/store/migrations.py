"""Schema migrations: per engine an ordered list of scripts, and a ``schema_version`` table.

At open, every migration newer than the recorded version is applied, all in one
transaction: a crash half-way leaves the previous schema intact. A database written by a
newer runner (a version we do not know) is refused rather than guessed at.
To change the schema, append a :class:`Migration` to :data:`MIGRATIONS` (SQLite) and to
:data:`runner.store.postgres_migrations.POSTGRES_MIGRATIONS`; never edit one that has
shipped. The two lists keep their own version numbers (PostgreSQL started later, from
the whole schema at once); a test checks that both engines end with the same tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from runner.errors import RunnerError

if TYPE_CHECKING:
    from runner.store.sql import Connection, Dialect

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "schema_version"]


@attrs.frozen
class Migration:
    """One schema step: its version (1, 2, ...), a name, and its SQL statements."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            """CREATE TABLE customers (
                customer_id TEXT PRIMARY KEY,
                repo_url    TEXT NOT NULL,
                base_branch TEXT NOT NULL,
                tasks_file  TEXT NOT NULL,
                tool        TEXT NOT NULL,
                push        INTEGER NOT NULL,
                settings    TEXT NOT NULL,
                created_at  TEXT NOT NULL,
                updated_at  TEXT NOT NULL
            )""",
            "CREATE INDEX customers_repo_url ON customers (repo_url)",
            """CREATE TABLE customer_state (
                customer_id TEXT PRIMARY KEY
                            REFERENCES customers (customer_id) ON DELETE CASCADE,
                state       TEXT NOT NULL,
                updated_at  TEXT NOT NULL
            )""",
            """CREATE TABLE runs (
                run_id       TEXT PRIMARY KEY,
                customer_id  TEXT NOT NULL
                             REFERENCES customers (customer_id) ON DELETE CASCADE,
                status       TEXT NOT NULL,
                params       TEXT NOT NULL,
                current_task TEXT,
                error        TEXT,
                started_at   TEXT NOT NULL,
                updated_at   TEXT NOT NULL,
                finished_at  TEXT
            )""",
            "CREATE INDEX runs_customer ON runs (customer_id, started_at)",
            "CREATE INDEX runs_status ON runs (status)",
            # The per-customer counter outlives pruned events, so a seq is never reused.
            """CREATE TABLE event_seq (
                customer_id TEXT PRIMARY KEY,
                last_seq    INTEGER NOT NULL
            )""",
            # id orders events across customers; (customer_id, seq) is the public identity.
            """CREATE TABLE events (
                id          INTEGER PRIMARY KEY,
                customer_id TEXT NOT NULL,
                seq         INTEGER NOT NULL,
                run_id      TEXT,
                type        TEXT NOT NULL,
                payload     TEXT NOT NULL,
                timestamp   TEXT NOT NULL,
                UNIQUE (customer_id, seq)
            )""",
            """CREATE TABLE idempotency (
                scope        TEXT NOT NULL,
                key          TEXT NOT NULL,
                request_hash TEXT NOT NULL,
                status       INTEGER,
                body         BLOB,
                headers      TEXT,
                created_at   TEXT NOT NULL,
                expires_at   TEXT NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
            "CREATE INDEX idempotency_expires ON idempotency (expires_at)",
            """CREATE TABLE audit (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                timestamp   TEXT NOT NULL,
                token_id    TEXT NOT NULL,
                action      TEXT NOT NULL,
                customer_id TEXT,
                outcome     TEXT NOT NULL,
                status_code INTEGER NOT NULL,
                request_id  TEXT,
                detail      TEXT NOT NULL
            )""",
            "CREATE INDEX audit_customer ON audit (customer_id, id)",
            """CREATE TABLE steps (
                customer_id TEXT NOT NULL,
                stage       TEXT NOT NULL,
                task_id     TEXT NOT NULL,
                branch      TEXT NOT NULL,
                status_code INTEGER NOT NULL,
                body        TEXT NOT NULL,
                recorded_at TEXT NOT NULL,
                PRIMARY KEY (customer_id, stage, task_id, branch)
            )""",
            "CREATE INDEX steps_task ON steps (customer_id, task_id)",
        ),
    ),
    Migration(
        2,
        "process journal",
        (
            # One row per life of the service: the marker prefix its processes carry.
            """CREATE TABLE process_lives (
                instance    TEXT PRIMARY KEY,
                pid         INTEGER NOT NULL,
                started_at  TEXT NOT NULL
            )""",
            # One row per running child process (job); pgid = pid, start_time in clock ticks.
            """CREATE TABLE processes (
                marker      TEXT PRIMARY KEY,
                pid         INTEGER NOT NULL,
                start_time  INTEGER NOT NULL,
                started_at  TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        3,
        "run stages, health probe",
        (
            # One row per stage a run went through: the audit trail of GET .../runs.
            """CREATE TABLE run_stages (
                run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                position    INTEGER NOT NULL,
                task_id     TEXT,
                stage       TEXT NOT NULL,
                attempt     INTEGER NOT NULL,
                outcome     TEXT NOT NULL,
                started_at  TEXT NOT NULL,
                finished_at TEXT NOT NULL,
                duration_s  REAL NOT NULL,
                result      TEXT NOT NULL,
                PRIMARY KEY (run_id, position)
            )""",
            # /health writes here: a probe that only reads passes on a full disk.
            "CREATE TABLE health_probe (id INTEGER PRIMARY KEY, writes INTEGER NOT NULL)",
        ),
    ),
    Migration(
        4,
        "skipped tasks",
        (
            """CREATE TABLE skipped_tasks (
                customer_id TEXT NOT NULL REFERENCES customers (customer_id) ON DELETE CASCADE,
                task_id     TEXT NOT NULL,
                reason      TEXT NOT NULL,
                skipped_by  TEXT,
                skipped_at  TEXT NOT NULL,
                PRIMARY KEY (customer_id, task_id)
            )""",
        ),
    ),
    Migration(
        5,
        "instances and customer leases",
        (
            # One row per running instance: where to forward a command for its customers.
            """CREATE TABLE instances (
                instance_id TEXT PRIMARY KEY,
                url         TEXT,
                started_at  TEXT NOT NULL,
                seen_at     TEXT NOT NULL
            )""",
            # Who runs a customer, until when (the database's clock), and the fencing token
            # that grows with every acquisition: a write carrying an older one is refused.
            """CREATE TABLE customer_leases (
                customer_id TEXT PRIMARY KEY
                            REFERENCES customers (customer_id) ON DELETE CASCADE,
                owner       TEXT,
                token       INTEGER NOT NULL,
                expires_at  TEXT NOT NULL
            )""",
            "CREATE INDEX customer_leases_owner ON customer_leases (owner)",
        ),
    ),
    Migration(
        6,
        "instances sharing a database: whose idempotent request, which host's life",
        (
            # An in-flight key of an instance that died is cleared by the others only.
            "ALTER TABLE idempotency ADD COLUMN instance TEXT",
            # A life on this host is over when its process is (another host's: when it
            # stops renewing its leases).
            "ALTER TABLE process_lives ADD COLUMN host TEXT",
            "ALTER TABLE process_lives ADD COLUMN start_time INTEGER",
        ),
    ),
)
"""Every SQLite migration, in order; ``MIGRATIONS[i].version == i + 1``."""


def schema_version(conn: Connection) -> int:
    """Return the highest applied migration version (0 for a fresh database)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def apply_migrations(
    conn: Connection, dialect: Dialect, migrations: tuple[Migration, ...] | None = None
) -> list[int]:
    """Apply every pending migration in one transaction; return the versions applied.

    ``conn`` must be in autocommit mode and outside a transaction.

    Args:
        conn: A fresh connection.
        dialect: The engine: how to begin, how to lock out other migrating processes.
        migrations: The list to apply; the dialect's own by default.

    Raises:
        RunnerError: code ``store_schema_too_new`` when the file has a version we do not know.
    """
    if migrations is None:
        migrations = dialect.migrations
    conn.execute(dialect.begin_write)
    try:
        if dialect.lock_schema is not None:
            conn.execute(dialect.lock_schema)
        current = schema_version(conn)
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise RunnerError(
                f"the database has schema version {current}; this runner knows up to {latest}",
                code="store_schema_too_new",
            )
        applied = []
        for migration in migrations:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise
    return applied
