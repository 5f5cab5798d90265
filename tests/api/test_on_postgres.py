"""The service on PostgreSQL: the API's store-backed tests again, and what /health says.

The tests imported below are collected here a second time and run with this module's
``settings`` fixture, which points ``DATABASE_URL`` at a fresh PostgreSQL database: the
same requests, runs, restarts and replays, on the other engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from tests.api.test_autopilot import (
    test_reconnect_with_since_replays_everything,
    test_resume_after_failure_retries_the_failed_stage,
    test_run_goes_to_done_with_every_event_in_order,
)
from tests.api.test_customers import (
    test_audit_records_state_changing_requests,
    test_put_is_idempotent_and_keeps_created_at,
    test_put_registers_and_get_returns_customer_with_state,
)
from tests.api.test_idempotency import (
    test_concurrent_duplicates_execute_once,
    test_errors_are_replayed_too,
    test_replay_survives_restart_on_same_database,
    test_same_key_same_payload_replays_byte_for_byte,
)
from tests.api.test_run_evidence import (
    test_a_resumed_run_counts_the_retried_stage_as_attempt_two,
    test_a_run_failing_at_verify_exposes_every_result,
)
from tests.helpers.fake_stages import FakeStages
from tests.helpers.postgres import PASSWORD
from tests.helpers.service import running_service, service_settings

if TYPE_CHECKING:
    from pathlib import Path

    from runner.config import Settings
    from tests.helpers.postgres import PostgresServer
    from tests.helpers.service import Service

__all__ = [
    "test_a_resumed_run_counts_the_retried_stage_as_attempt_two",
    "test_a_run_failing_at_verify_exposes_every_result",
    "test_audit_records_state_changing_requests",
    "test_concurrent_duplicates_execute_once",
    "test_errors_are_replayed_too",
    "test_put_is_idempotent_and_keeps_created_at",
    "test_put_registers_and_get_returns_customer_with_state",
    "test_reconnect_with_since_replays_everything",
    "test_replay_survives_restart_on_same_database",
    "test_resume_after_failure_retries_the_failed_stage",
    "test_run_goes_to_done_with_every_event_in_order",
    "test_same_key_same_payload_replays_byte_for_byte",
]


@pytest.fixture
def settings(tmp_path: Path, postgres_server: PostgresServer) -> Settings:
    """The service's settings with a fresh PostgreSQL database as its store."""
    return service_settings(tmp_path, postgres_url=postgres_server.create_database())


async def test_health_on_postgres_names_no_password_and_no_local_volume(
    service: Service,
) -> None:
    assert service.settings.postgres_url is not None
    await service.services.health.probed.wait()
    with trio.fail_after(10):
        async with service.client() as client:
            response = await client.get("/health")
    body = response.json()
    assert body["dependencies"]["store"] == "available"
    assert body["dependencies"]["databaseVolume"] == "remote: postgresql"
    assert PASSWORD not in response.text


async def test_restart_mid_run_on_a_shared_database_resumes_the_run_by_itself(
    settings: Settings,
) -> None:
    """On SQLite a restart leaves the run FAILED ``interrupted`` for a person to resume
    (tests/api/test_autopilot.py); on a database instances share, the run of an instance
    that went away is taken over and resumed by the next one, here the restarted service."""
    stages = FakeStages()
    stages.gate("verify")
    with trio.fail_after(60):
        async with running_service(settings, stages) as service:
            async with service.client() as client:
                await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
                assert (await client.post("/customers/acme/run")).status_code == 202
            await stages.entered["verify"].wait()
        restarted = FakeStages(done={"acme": set()}, branches=stages.branches)
        async with running_service(settings, restarted) as service:
            async with service.client() as client:
                while (await client.get("/customers/acme")).json()["state"]["status"] != "DONE":  # noqa: ASYNC110
                    await trio.sleep(0.05)  # the adoption runs every second: poll its effect
            assert service.services.registry.adopted == 1
            # the run's record is updated right after the state that ends it
            runs = await service.services.store.runs.list("acme", 10)
            while [r.status for r in runs] != ["DONE"]:
                await trio.sleep(0.05)
                runs = await service.services.store.runs.list("acme", 10)
    assert restarted.calls[:2] == [("acme", "prep", "1.1.1"), ("acme", "verify", "1.1.1")]
    assert [r.status for r in runs] == ["DONE"]
