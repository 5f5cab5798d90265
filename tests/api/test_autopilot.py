from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.helpers.fake_stages import FakeStages, criteria_failure
from tests.helpers.service import Service, running_service, service_settings
from tests.helpers.ws import frames_until, status_is, statuses

if TYPE_CHECKING:
    from pathlib import Path

    from runner.config import Settings

STAGES = ["SELECTING", "PREPARING", "IMPLEMENTING", "VERIFYING", "COMPLETING"]


async def _register(service: Service, customer: str = "acme") -> None:
    async with service.client() as client:
        response = await client.put(f"/customers/{customer}", json={"repoUrl": f"/srv/{customer}"})
        assert response.status_code == 200


async def _state(service: Service, customer: str = "acme") -> dict[str, object]:
    async with service.client() as client:
        body: dict[str, object] = (await client.get(f"/customers/{customer}")).json()["state"]
        return body


async def test_run_goes_to_done_with_every_event_in_order(service: Service) -> None:
    await _register(service)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            response = await client.post("/customers/acme/run", json={})
            assert response.status_code == 202
            assert response.json()["status"] == "SELECTING"
            frames = await frames_until(ws, status_is("DONE"))
    updates = [f for f in frames if f["type"] == "execution-update"]
    assert statuses(frames) == [*STAGES * 3, "SELECTING", "DONE"]
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    progress = [f["progress"] for f in updates]
    assert progress == sorted(progress)
    assert progress[-1] == 100.0
    assert {f["runId"] for f in frames} == {response.json()["runId"]}
    logs = [f for f in frames if f["type"] == "execution-log"]
    assert logs
    assert all("ghp_" not in f["message"] for f in logs)  # stage logs are redacted
    state = await _state(service)
    assert state["status"] == "DONE"
    assert state["progress"] == 100.0


async def test_stop_on_error_leaves_later_tasks_untouched(
    service: Service, stages: FakeStages
) -> None:
    stages.fail[("verify", "1.1.2")] = criteria_failure("1.1.2")
    await _register(service)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            await client.post("/customers/acme/run")
            frames = await frames_until(ws, status_is("FAILED"))
    error = frames[-1]["error"]
    assert {k: error[k] for k in ("stage", "code", "message", "details")} == {
        "stage": "verify",
        "code": "criteria_not_met",
        "message": "criteria not met: test.coverage",
        "details": {"results": {"test.coverage": {"passed": False}}},
    }
    # three attempts, each with its evidence, then stop-on-error
    assert (error["attempt"], error["maxAttempts"]) == (3, 3)
    assert [a["attempt"] for a in error["attempts"]] == [1, 2, 3]
    assert error["attempts"][0]["results"] == {"test.coverage": {"passed": False}}
    assert [c[1] for c in stages.calls if c[2] == "1.1.2"] == ["prep", *["implement", "verify"] * 3]
    assert not [c for c in stages.calls if c[2] == "1.1.3"]
    assert ("acme", "complete", "1.1.2") not in stages.calls
    state = await _state(service)
    assert state["status"] == "FAILED"
    assert state["currentTask"] == "1.1.2"
    assert state["error"]["code"] == "criteria_not_met"  # type: ignore[index]


async def test_resume_after_failure_retries_the_failed_stage(
    service: Service, stages: FakeStages
) -> None:
    stages.fail[("implement", "1.1.1")] = criteria_failure("1.1.1")
    await _register(service)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            await client.post("/customers/acme/run")
            await frames_until(ws, status_is("FAILED"))
            del stages.fail[("implement", "1.1.1")]
            resumed = await client.post("/customers/acme/resume")
            assert resumed.status_code == 200
            assert resumed.json()["status"] == "IMPLEMENTING"
            await frames_until(ws, status_is("DONE"))
    # resumed at IMPLEMENT once PREP (fetch first) brought the branch up to date
    assert [c[1] for c in stages.calls if c[2] == "1.1.1"] == [
        "prep", "implement", "prep", "implement", "verify", "complete"
    ]  # fmt: skip


async def test_pause_waits_for_the_stage_then_resume_continues(
    service: Service, stages: FakeStages
) -> None:
    gate = stages.gate("implement")
    await _register(service)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            await client.post("/customers/acme/run")
            await stages.entered["implement"].wait()
            paused = await client.post("/customers/acme/pause")
            assert paused.status_code == 200
            assert paused.json()["status"] == "IMPLEMENTING"
            assert paused.json()["pauseRequested"] is True
            gate.set()
            await frames_until(ws, status_is("PAUSED"))
            assert ("acme", "verify", "1.1.1") not in stages.calls
            stages.gates.clear()
            resumed = await client.post("/customers/acme/resume")
            assert resumed.json()["status"] == "VERIFYING"
            await frames_until(ws, status_is("DONE"))


async def test_invalid_transitions_are_409_naming_status_and_valid_ones(
    service: Service, stages: FakeStages
) -> None:
    await _register(service)
    async with service.client() as client:
        pause = await client.post("/customers/acme/pause")
        resume = await client.post("/customers/acme/resume")
        stop = await client.post("/customers/acme/stop")
        gate = stages.gate("prep")
        await client.post("/customers/acme/run")
        await stages.entered["prep"].wait()
        again = await client.post("/customers/acme/run")
        gate.set()
    for response, action in ((pause, "pause"), (resume, "resume"), (stop, "stop")):
        assert response.status_code == 409
        body = response.json()
        assert body["error"]["code"] == "invalid_transition"
        assert body["currentStatus"] == "IDLE"
        assert body["allowedStatuses"]
        assert action in body["error"]["message"]
    assert again.status_code == 409
    assert again.json()["currentStatus"] == "PREPARING"


async def test_stop_cancels_now_and_resets_the_workspace(
    service: Service, stages: FakeStages
) -> None:
    stages.gate("implement")
    await _register(service)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            await client.post("/customers/acme/run")
            await stages.entered["implement"].wait()
            stopped = await client.post("/customers/acme/stop")
            assert stopped.status_code == 200
            await frames_until(ws, status_is("STOPPED"))
    assert stages.resets == 1
    assert ("acme", "verify", "1.1.1") not in stages.calls


async def test_stop_after_task_pauses_there(service: Service, stages: FakeStages) -> None:
    await _register(service)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            await client.post("/customers/acme/run", json={"stopAfterTask": "1.1.1"})
            await frames_until(ws, status_is("PAUSED"))
    assert stages.done["acme"] == {"1.1.1"}


async def test_manual_stage_during_run_is_409_busy(service: Service, stages: FakeStages) -> None:
    gate = stages.gate("implement")
    await _register(service)
    async with service.client() as client:
        await client.post("/customers/acme/run")
        await stages.entered["implement"].wait()
        response = await client.post(
            "/prep", json={"repoUrl": "/srv/acme", "taskId": "1.1.2", "customerId": "acme"}
        )
        gate.set()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "customer_busy"


async def test_restart_mid_run_shows_interrupted_and_resume_continues(
    settings: Settings,
) -> None:
    stages = FakeStages()
    stages.gate("verify")
    with trio.fail_after(60):
        async with running_service(settings, stages) as service:
            await _register(service)
            async with service.client() as client:
                await client.post("/customers/acme/run")
            await stages.entered["verify"].wait()
        # the workspace outlives the service: its task branch is still there
        restarted = FakeStages(done={"acme": set()}, branches=stages.branches)
        async with running_service(settings, restarted) as service:
            state = await _state(service)
            assert state["status"] == "FAILED"
            assert state["error"]["code"] == "interrupted"  # type: ignore[index]
            assert state["currentTask"] == "1.1.1"
            url = f"{service.ws_url}/ws/devteam?customerId=acme"
            async with open_websocket_url(url) as ws, service.client() as client:
                resumed = await client.post("/customers/acme/resume")
                assert resumed.json()["status"] == "VERIFYING"
                await frames_until(ws, status_is("DONE"))
    assert restarted.calls[:2] == [("acme", "prep", "1.1.1"), ("acme", "verify", "1.1.1")]


async def test_reconnect_with_since_replays_everything(service: Service) -> None:
    await _register(service)
    base = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(base) as ws, service.client() as client:
            await client.post("/customers/acme/run")
            first = await frames_until(ws, lambda f: f.get("status") == "VERIFYING")
            live_rest = await frames_until(ws, status_is("DONE"))
        cut = first[-1]["seq"]
        async with open_websocket_url(f"{base}&since={cut}") as ws:
            replayed = await frames_until(ws, status_is("DONE"))
    assert [f["seq"] for f in replayed] == [f["seq"] for f in live_rest]


async def test_twenty_customers_run_in_parallel_to_done(service: Service) -> None:
    customers = [f"c{i:02d}" for i in range(20)]
    for customer in customers:
        await _register(service, customer)
    with trio.fail_after(60):
        async with open_websocket_url(f"{service.ws_url}/ws/devteam") as ws:
            async with service.client() as client:
                for customer in customers:
                    assert (await client.post(f"/customers/{customer}/run")).status_code == 202
            finished: set[str] = set()
            while finished != set(customers):
                frames = await frames_until(ws, status_is("DONE"))
                finished.add(frames[-1]["customerId"])
    for customer in customers:
        assert (await _state(service, customer))["status"] == "DONE"


async def test_subscribers_are_counted_and_released_on_disconnect(service: Service) -> None:
    from tests.helpers.ws import ws_connect

    bus = service.services.bus
    with trio.fail_after(30):
        async with ws_connect(f"{service.ws_url}/ws/devteam?customerId=acme"):
            while bus.subscriber_count != 1:  # noqa: ASYNC110 - the server registers it
                await trio.sleep(0.01)
            async with service.client() as client:
                metrics = (await client.get("/metrics")).text
            assert "devteam_ws_subscribers 1.0" in metrics
        while bus.subscriber_count != 0:  # noqa: ASYNC110 - the server notices the close
            await trio.sleep(0.01)


async def test_bad_websocket_query_gets_an_error_frame_naming_the_field(service: Service) -> None:
    import json

    from trio_websocket import ConnectionClosed

    from tests.helpers.ws import ws_connect

    with trio.fail_after(30):
        async with ws_connect(f"{service.ws_url}/ws/devteam?since=abc") as ws:
            frame = json.loads(await ws.get_message())
            with pytest.raises(ConnectionClosed):
                await ws.get_message()
    assert frame["type"] == "error"
    assert frame["error"]["details"][0]["field"] == "since"


async def test_a_paused_run_stays_paused_across_a_restart(tmp_path: Path) -> None:
    settings = service_settings(tmp_path)
    stages = FakeStages()
    with trio.fail_after(60):
        async with running_service(settings, stages) as service:
            await _register(service)
            url = f"{service.ws_url}/ws/devteam?customerId=acme"
            async with open_websocket_url(url) as ws, service.client() as client:
                await client.post("/customers/acme/run", json={"stopAfterTask": "1.1.1"})
                await frames_until(ws, status_is("PAUSED"))
        restarted = FakeStages(done={"acme": {"1.1.1"}})
        async with running_service(settings, restarted) as service:
            assert (await _state(service))["status"] == "PAUSED"
            url = f"{service.ws_url}/ws/devteam?customerId=acme"
            async with open_websocket_url(url) as ws, service.client() as client:
                resumed = await client.post("/customers/acme/resume")
                assert resumed.status_code == 200
                await frames_until(ws, status_is("DONE"))
    assert [c[2] for c in restarted.calls if c[1] == "prep"] == ["1.1.2", "1.1.3"]


async def test_unmet_verify_is_repaired_with_the_evidence(
    service: Service, stages: FakeStages
) -> None:
    stages.fail[("verify", "1.1.1")] = criteria_failure("1.1.1")
    stages.fail_times[("verify", "1.1.1")] = 1  # the second attempt passes
    await _register(service)
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            await client.post("/customers/acme/run", json={})
            frames = await frames_until(ws, status_is("DONE"))
    attempts = [
        (f.get("attempt"), f.get("maxAttempts"), f["status"])
        for f in frames
        if f["type"] == "execution-update" and f.get("taskId") == "1.1.1"
    ]
    assert (2, 3, "IMPLEMENTING") in attempts
    assert stages.repairs[0] is None
    repair = stages.repairs[1]
    assert repair is not None
    assert repair.startswith("Attempt 2 of 3. The previous attempt did not pass:")
    assert "- test.coverage: failed" in repair
    assert ("acme", "complete", "1.1.1") in stages.calls


async def test_max_attempts_one_stops_on_the_first_error(
    service: Service, stages: FakeStages
) -> None:
    stages.fail[("verify", "1.1.1")] = criteria_failure("1.1.1")
    await _register(service)
    with trio.fail_after(30):
        async with service.client() as client:
            started = await client.post("/customers/acme/run", json={"maxAttempts": 1})
            assert started.status_code == 202
            state = await _wait_status(service, "FAILED")
    assert [c[1] for c in stages.calls if c[2] == "1.1.1"] == ["prep", "implement", "verify"]
    assert state["maxAttempts"] == 1
    assert state["error"]["attempts"][0]["code"] == "criteria_not_met"  # type: ignore[index]


async def test_customer_max_attempts_and_bad_values(service: Service) -> None:
    async with service.client() as client:
        put = await client.put("/customers/acme", json={"repoUrl": "/srv/a", "maxAttempts": 2})
        assert put.status_code == 200
        assert put.json()["maxAttempts"] == 2
        bad = await client.put("/customers/acme", json={"repoUrl": "/srv/a", "maxAttempts": 0})
        assert bad.status_code == 400
        assert bad.json()["error"]["details"][0]["field"] == "maxAttempts"
        run = await client.post("/customers/acme/run", json={"maxAttempts": 11})
        assert run.status_code == 400


async def _wait_status(service: Service, status: str) -> dict[str, object]:
    while True:
        state = await _state(service)
        if state["status"] == status:
            return state
        await trio.sleep(0.01)
