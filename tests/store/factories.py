"""Test data for the store tests: pinned timestamps and default records."""

from __future__ import annotations

from runner.store import CustomerRecord, RunRecord


def at(second: int, minute: int = 0) -> str:
    """Return a fixed ISO-8601 UTC timestamp (tests pin the clock)."""
    return f"2025-01-01T00:{minute:02d}:{second:02d}Z"


def customer(customer_id: str = "cust-a", repo_url: str = "file:///repos/a") -> CustomerRecord:
    """Return a customer record with some settings."""
    return CustomerRecord(
        customer_id=customer_id,
        repo_url=repo_url,
        base_branch="main",
        tasks_file="docs/DevTeam/tasks_list.md",
        tool="aider",
        push=False,
        settings={"criteria": {"test.coverage": "≥80%"}},
        created_at=at(0),
        updated_at=at(0),
    )


def run(
    run_id: str, customer_id: str = "cust-a", status: str = "SELECTING", second: int = 1
) -> RunRecord:
    """Return a fresh run record."""
    return RunRecord(
        run_id=run_id,
        customer_id=customer_id,
        status=status,
        params={"tool": "aider"},
        current_task=None,
        error=None,
        started_at=at(second),
        updated_at=at(second),
    )
