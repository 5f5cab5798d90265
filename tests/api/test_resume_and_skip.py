"""resume {from} and skip at the API edge (fake stages)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import trio

from runner.errors import GitError
from runner.pipeline import PrepArtifacts
from runner.pipeline.autopilot import STAGE_ORDER, _after_sync
from tests.helpers.fake_stages import FakeStages, criteria_failure

if TYPE_CHECKING:
    from tests.helpers.service import Service


async def _wait(service: Service, *final: str) -> dict[str, Any]:
    async with service.client() as client:
        with trio.fail_after(30):
            while True:
                state: dict[str, Any] = (await client.get("/customers/acme")).json()["state"]
                if state["status"] in final:
                    return state
                await trio.sleep(0.02)  # the state is read over HTTP


async def _failed_at_verify(service: Service, stages: FakeStages) -> None:
    stages.fail[("verify", "1.1.1")] = criteria_failure("1.1.1")
    stages.fail_times[("verify", "1.1.1")] = 1
    async with service.client() as client:
        assert (await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})).is_success
        started = await client.post("/customers/acme/run", json={"maxAttempts": 1})
        assert started.status_code == 202
    await _wait(service, "FAILED")


async def test_a_conflict_on_resume_keeps_the_resume_point(
    service: Service, stages: FakeStages
) -> None:
    await _failed_at_verify(service, stages)
    stages.fail[("prep", "1.1.1")] = GitError("conflicts in a.py", code="merge_conflict")
    stages.fail_times[("prep", "1.1.1")] = 1
    async with service.client() as client:
        assert (await client.post("/customers/acme/resume")).status_code == 200
    state = await _wait(service, "FAILED")
    assert (state["error"]["stage"], state["error"]["code"]) == ("prep", "merge_conflict")
    stages.calls.clear()  # the person resolves the conflict, then resumes
    async with service.client() as client:
        assert (await client.post("/customers/acme/resume")).status_code == 200
    assert (await _wait(service, "DONE", "FAILED"))["status"] == "DONE"
    assert stages.calls[:2] == [("acme", "prep", "1.1.1"), ("acme", "verify", "1.1.1")]


async def test_a_manual_stage_between_does_not_move_the_resume_point(
    service: Service, stages: FakeStages
) -> None:
    await _failed_at_verify(service, stages)
    async with service.client() as client:
        body = {"customerId": "acme", "repoUrl": "/srv/acme", "taskId": "1.1.2"}
        prepped = await client.post("/prep", json=body)
        assert prepped.status_code == 200, prepped.text
    state = await _wait(service, "FAILED")
    assert (state["currentTask"], state["branch"]) == ("1.1.1", "task/1-1-1-fake")
    stages.calls.clear()
    async with service.client() as client:
        assert (await client.post("/customers/acme/resume")).status_code == 200
    assert (await _wait(service, "DONE", "FAILED"))["status"] == "DONE"
    assert stages.calls[:2] == [("acme", "prep", "1.1.1"), ("acme", "verify", "1.1.1")]


async def test_a_skip_is_undone_once_and_not_while_running(
    service: Service, stages: FakeStages
) -> None:
    await _failed_at_verify(service, stages)
    url = "/customers/acme/tasks/1.1.2/skip"
    async with service.client() as client:
        assert (await client.post(url, json={"reason": "later"})).status_code == 200
        undone = await client.delete(url)
        assert undone.status_code == 200, undone.text
        assert (undone.json()["taskId"], undone.json()["state"]["status"]) == ("1.1.2", "FAILED")
        again = await client.delete(url)
        assert (again.status_code, again.json()["error"]["code"]) == (404, "skip_not_found")
        gate = stages.gate("implement")
        assert (
            await client.post("/customers/acme/tasks/1.1.3/skip", json={"reason": "x"})
        ).is_success
        assert (await client.post("/customers/acme/resume")).status_code == 200
        await stages.entered["implement"].wait()
        busy = await client.delete("/customers/acme/tasks/1.1.3/skip")
        assert busy.status_code == 409
        gate.set()
        audit = (await client.get("/audit?customerId=acme")).json()["entries"]
    assert any(e["action"] == "DELETE /customers/<customer_id>/tasks/<task_id>/skip"
               and e["statusCode"] == 200 for e in audit)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "   "}, "reason"),
        ({"reason": "line\nFAKE [error] run_failed"}, "reason"),
        ({"reason": "x\x1b[31m"}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": 5}, "reason"),
    ],
)
async def test_a_skip_reason_is_one_line_of_text(
    service: Service, stages: FakeStages, body: dict[str, Any], field: str
) -> None:
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
        response = await client.post("/customers/acme/tasks/1.1.2/skip", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("stage", ["complete", "select", 5])
async def test_resume_from_takes_prep_implement_or_verify_only(
    service: Service, stages: FakeStages, stage: object
) -> None:
    await _failed_at_verify(service, stages)
    async with service.client() as client:
        response = await client.post("/customers/acme/resume", json={"from": stage})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "from"


@pytest.mark.parametrize(
    "synced", ["fast-forwarded", "taken-from-remote", "merged-base", "rebased"]
)
def test_what_a_sync_brought_in_is_verified_before_complete(synced: str) -> None:
    complete = STAGE_ORDER.index("complete")
    after = _after_sync(complete, _synced(synced))
    assert STAGE_ORDER[after] == "verify"


def test_a_branch_made_afresh_is_implemented_again() -> None:
    verify = STAGE_ORDER.index("verify")
    assert STAGE_ORDER[_after_sync(verify, _synced("", created=True))] == "implement"
    assert STAGE_ORDER[_after_sync(verify, _synced(""))] == "verify"


def _synced(how: str, *, created: bool = False) -> PrepArtifacts:
    return PrepArtifacts(cloned=False, branch_created=created, branch_synced=how,
                         working_directory="/w")  # fmt: skip
