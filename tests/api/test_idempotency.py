from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import trio

from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from runner.config import Settings

PREP = {"repoUrl": "/srv/repo.git", "taskId": "1.1.1", "customerId": "acme"}


def _prep_calls(stages: FakeStages) -> int:
    return sum(1 for _c, stage, _t in stages.calls if stage == "prep")


async def test_same_key_same_payload_replays_byte_for_byte(
    service: Service, stages: FakeStages
) -> None:
    async with service.client() as client:
        first = await client.post("/prep", json={**PREP, "idempotencyKey": "k1"})
        second = await client.post("/prep", json={**PREP, "idempotencyKey": "k1"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first.json()["idempotencyKey"] == "k1"
    assert second.headers["idempotent-replayed"] == "true"
    assert _prep_calls(stages) == 1


async def test_header_key_counts_like_body_key(service: Service, stages: FakeStages) -> None:
    async with service.client() as client:
        first = await client.post("/prep", json=PREP, headers={"Idempotency-Key": "h1"})
        second = await client.post("/prep", json=PREP, headers={"Idempotency-Key": "h1"})
    assert first.content == second.content
    assert _prep_calls(stages) == 1


async def test_same_key_other_payload_is_422(service: Service, stages: FakeStages) -> None:
    async with service.client() as client:
        await client.post("/prep", json={**PREP, "idempotencyKey": "k2"})
        other = await client.post("/prep", json={**PREP, "taskId": "1.1.2", "idempotencyKey": "k2"})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert _prep_calls(stages) == 1


async def test_errors_are_replayed_too(service: Service, stages: FakeStages) -> None:
    async with service.client() as client:
        first = await client.post("/prep", json={**PREP, "taskId": "9.9.9", "idempotencyKey": "k3"})
        second = await client.post(
            "/prep", json={**PREP, "taskId": "9.9.9", "idempotencyKey": "k3"}
        )
    assert first.status_code == second.status_code == 404
    assert first.content == second.content
    assert _prep_calls(stages) == 1


async def test_without_key_prep_runs_again(service: Service, stages: FakeStages) -> None:
    async with service.client() as client:
        await client.post("/prep", json=PREP)
        await client.post("/prep", json=PREP)
    assert _prep_calls(stages) == 2


async def test_concurrent_duplicates_execute_once(service: Service, stages: FakeStages) -> None:
    gate = stages.gate("prep")
    responses: list[httpx.Response] = []
    with trio.fail_after(30):
        async with service.client() as client, trio.open_nursery() as nursery:

            async def send() -> None:
                responses.append(
                    await client.post("/prep", json={**PREP, "idempotencyKey": "same"})
                )

            nursery.start_soon(send)
            nursery.start_soon(send)
            await stages.entered["prep"].wait()
            await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            gate.set()
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].content == responses[1].content
    assert _prep_calls(stages) == 1


async def test_in_flight_past_the_wait_is_409_with_retry_after(tmp_path: Path) -> None:
    stages = FakeStages()
    gate = stages.gate("prep")
    settings = service_settings(tmp_path, idempotency_wait_s=0.2)
    with trio.fail_after(30):
        async with running_service(settings, stages) as service:
            async with service.client() as client, trio.open_nursery() as nursery:
                first: list[httpx.Response] = []

                async def send_first() -> None:
                    first.append(await client.post("/prep", json={**PREP, "idempotencyKey": "f"}))

                nursery.start_soon(send_first)
                await stages.entered["prep"].wait()
                second = await client.post("/prep", json={**PREP, "idempotencyKey": "f"})
                gate.set()
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_in_flight"
    assert int(second.headers["retry-after"]) >= 1
    assert first[0].status_code == 200
    assert _prep_calls(stages) == 1


async def test_replay_survives_restart_on_same_database(settings: Settings) -> None:
    with trio.fail_after(60):
        async with running_service(settings, FakeStages()) as service, service.client() as client:
            first = await client.post("/prep", json={**PREP, "idempotencyKey": "r"})
        restarted_stages = FakeStages()
        async with running_service(settings, restarted_stages) as service:
            async with service.client() as client:
                again = await client.post("/prep", json={**PREP, "idempotencyKey": "r"})
    assert again.content == first.content
    assert _prep_calls(restarted_stages) == 0


async def test_keys_expire_after_ttl(tmp_path: Path) -> None:
    clock = {"now": datetime(2026, 1, 1, tzinfo=UTC)}
    stages = FakeStages()
    settings = service_settings(tmp_path, idempotency_ttl_hours=24.0)
    with trio.fail_after(60):
        async with running_service(settings, stages, now=lambda: clock["now"]) as service:
            async with service.client() as client:
                await client.post("/prep", json={**PREP, "idempotencyKey": "ttl"})
                clock["now"] += timedelta(hours=23)
                await client.post("/prep", json={**PREP, "idempotencyKey": "ttl"})
                assert _prep_calls(stages) == 1
                clock["now"] += timedelta(hours=2)
                await client.post("/prep", json={**PREP, "idempotencyKey": "ttl"})
    assert _prep_calls(stages) == 2


async def test_keys_are_scoped_per_customer(service: Service, stages: FakeStages) -> None:
    async with service.client() as client:
        await client.post("/prep", json={**PREP, "idempotencyKey": "shared"})
        other = await client.post(
            "/prep",
            json={
                **PREP,
                "customerId": "globex",
                "repoUrl": "/srv/other.git",
                "idempotencyKey": "shared",
            },
        )
    assert other.status_code == 200
    assert _prep_calls(stages) == 2
