"""The PostgreSQL schema: the SQLite tables in PostgreSQL's types.

Started from the whole SQLite schema at once (its version 4), so its own version numbers
begin at 1. Where the types differ and why:

* every ``TEXT`` is ``COLLATE "C"``: ids and ISO timestamps sort and compare byte by byte,
  as in SQLite, whatever the database's locale (``en_US`` would sort ``cust-10`` first);
* SQLite's ``INTEGER`` is 64-bit, so ``BIGINT``; ``BLOB`` is ``BYTEA``, ``REAL`` is
  ``DOUBLE PRECISION``;
* ``runs`` and ``steps`` order ties by SQLite's implicit ``rowid``; here it is an explicit
  identity column of that name, so the repositories' ``ORDER BY ..., rowid`` is one text.
"""

from __future__ import annotations

from runner.store.migrations import Migration

__all__ = ["POSTGRES_MIGRATIONS", "SCHEMA_LOCK"]

SCHEMA_LOCK = 0x646576_7465616D
"""The advisory lock key held while migrating ("devteam"), so instances migrate one by one."""

_TEXT = 'TEXT COLLATE "C"'
_ROWID = "rowid BIGINT GENERATED ALWAYS AS IDENTITY"

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema (SQLite version 4)",
        (
            f"""CREATE TABLE customers (
                customer_id {_TEXT} PRIMARY KEY,
                repo_url    {_TEXT} NOT NULL,
                base_branch {_TEXT} NOT NULL,
                tasks_file  {_TEXT} NOT NULL,
                tool        {_TEXT} NOT NULL,
                push        BIGINT NOT NULL,
                settings    {_TEXT} NOT NULL,
                created_at  {_TEXT} NOT NULL,
                updated_at  {_TEXT} NOT NULL
            )""",
            "CREATE INDEX customers_repo_url ON customers (repo_url)",
            f"""CREATE TABLE customer_state (
                customer_id {_TEXT} PRIMARY KEY
                            REFERENCES customers (customer_id) ON DELETE CASCADE,
                state       {_TEXT} NOT NULL,
                updated_at  {_TEXT} NOT NULL
            )""",
            f"""CREATE TABLE runs (
                {_ROWID},
                run_id       {_TEXT} PRIMARY KEY,
                customer_id  {_TEXT} NOT NULL
                             REFERENCES customers (customer_id) ON DELETE CASCADE,
                status       {_TEXT} NOT NULL,
                params       {_TEXT} NOT NULL,
                current_task {_TEXT},
                error        {_TEXT},
                started_at   {_TEXT} NOT NULL,
                updated_at   {_TEXT} NOT NULL,
                finished_at  {_TEXT}
            )""",
            "CREATE INDEX runs_customer ON runs (customer_id, started_at)",
            "CREATE INDEX runs_status ON runs (status)",
            # The per-customer counter outlives pruned events, so a seq is never reused.
            f"""CREATE TABLE event_seq (
                customer_id {_TEXT} PRIMARY KEY,
                last_seq    BIGINT NOT NULL
            )""",
            # id orders events across customers; (customer_id, seq) is the public identity.
            f"""CREATE TABLE events (
                id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                customer_id {_TEXT} NOT NULL,
                seq         BIGINT NOT NULL,
                run_id      {_TEXT},
                type        {_TEXT} NOT NULL,
                payload     {_TEXT} NOT NULL,
                timestamp   {_TEXT} NOT NULL,
                UNIQUE (customer_id, seq)
            )""",
            f"""CREATE TABLE idempotency (
                scope        {_TEXT} NOT NULL,
                key          {_TEXT} NOT NULL,
                request_hash {_TEXT} NOT NULL,
                status       BIGINT,
                body         BYTEA,
                headers      {_TEXT},
                created_at   {_TEXT} NOT NULL,
                expires_at   {_TEXT} NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
            "CREATE INDEX idempotency_expires ON idempotency (expires_at)",
            f"""CREATE TABLE audit (
                id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                timestamp   {_TEXT} NOT NULL,
                token_id    {_TEXT} NOT NULL,
                action      {_TEXT} NOT NULL,
                customer_id {_TEXT},
                outcome     {_TEXT} NOT NULL,
                status_code BIGINT NOT NULL,
                request_id  {_TEXT},
                detail      {_TEXT} NOT NULL
            )""",
            "CREATE INDEX audit_customer ON audit (customer_id, id)",
            f"""CREATE TABLE steps (
                {_ROWID},
                customer_id {_TEXT} NOT NULL,
                stage       {_TEXT} NOT NULL,
                task_id     {_TEXT} NOT NULL,
                branch      {_TEXT} NOT NULL,
                status_code BIGINT NOT NULL,
                body        {_TEXT} NOT NULL,
                recorded_at {_TEXT} NOT NULL,
                PRIMARY KEY (customer_id, stage, task_id, branch)
            )""",
            "CREATE INDEX steps_task ON steps (customer_id, task_id)",
            f"""CREATE TABLE process_lives (
                instance    {_TEXT} PRIMARY KEY,
                pid         BIGINT NOT NULL,
                started_at  {_TEXT} NOT NULL
            )""",
            f"""CREATE TABLE processes (
                marker      {_TEXT} PRIMARY KEY,
                pid         BIGINT NOT NULL,
                start_time  BIGINT NOT NULL,
                started_at  {_TEXT} NOT NULL
            )""",
            f"""CREATE TABLE run_stages (
                run_id      {_TEXT} NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                position    BIGINT NOT NULL,
                task_id     {_TEXT},
                stage       {_TEXT} NOT NULL,
                attempt     BIGINT NOT NULL,
                outcome     {_TEXT} NOT NULL,
                started_at  {_TEXT} NOT NULL,
                finished_at {_TEXT} NOT NULL,
                duration_s  DOUBLE PRECISION NOT NULL,
                result      {_TEXT} NOT NULL,
                PRIMARY KEY (run_id, position)
            )""",
            "CREATE TABLE health_probe (id BIGINT PRIMARY KEY, writes BIGINT NOT NULL)",
            f"""CREATE TABLE skipped_tasks (
                customer_id {_TEXT} NOT NULL REFERENCES customers (customer_id) ON DELETE CASCADE,
                task_id     {_TEXT} NOT NULL,
                reason      {_TEXT} NOT NULL,
                skipped_by  {_TEXT},
                skipped_at  {_TEXT} NOT NULL,
                PRIMARY KEY (customer_id, task_id)
            )""",
        ),
    ),
    Migration(
        2,
        "instances and customer leases (SQLite version 5)",
        (
            f"""CREATE TABLE instances (
                instance_id {_TEXT} PRIMARY KEY,
                url         {_TEXT},
                started_at  {_TEXT} NOT NULL,
                seen_at     TIMESTAMPTZ NOT NULL
            )""",
            f"""CREATE TABLE customer_leases (
                customer_id {_TEXT} PRIMARY KEY
                            REFERENCES customers (customer_id) ON DELETE CASCADE,
                owner       {_TEXT},
                token       BIGINT NOT NULL,
                expires_at  TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX customer_leases_owner ON customer_leases (owner)",
        ),
    ),
    Migration(
        3,
        "instances sharing a database (SQLite version 6)",
        (
            f"ALTER TABLE idempotency ADD COLUMN instance {_TEXT}",
            f"ALTER TABLE process_lives ADD COLUMN host {_TEXT}",
            "ALTER TABLE process_lives ADD COLUMN start_time BIGINT",
        ),
    ),
)
"""Every PostgreSQL migration, in order; ``POSTGRES_MIGRATIONS[i].version == i + 1``."""
