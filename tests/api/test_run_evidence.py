"""A run that stops carries its evidence: state, WebSocket frame, and the run's record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
from trio_websocket import open_websocket_url

from runner.errors import CriteriaNotMetError
from tests.helpers.ws import frames_until, status_is

if TYPE_CHECKING:
    from tests.helpers.fake_stages import FakeStages
    from tests.helpers.service import Service

RESULTS = {
    "test.coverage": {"passed": False, "actual": "61.5%", "required": "≥80%",
                      "details": {"scope": ["src/a.py"], "coveredLines": 8, "totalLines": 13}},
    "type.strict": {"passed": True, "actual": "0 errors", "required": "0 errors"},
    "tests.pass": {"passed": False, "actual": "1 failed", "required": "all tests pass",
                   "details": {"failing": ["tests/test_a.py::test_add"]}},
}  # fmt: skip
TEST_OUTPUT = "\n".join(f"line {i}" for i in range(100)) + "\nFAILED tests/test_a.py::test_add"


def _verify_failure() -> CriteriaNotMetError:
    return CriteriaNotMetError(
        "criteria not met: test.coverage, tests.pass",
        task_id="1.1.2",
        extra={"results": RESULTS, "artifacts": {"testOutput": TEST_OUTPUT}},
    )


async def _get(service: Service, path: str) -> Any:
    async with service.client() as client:
        response = await client.get(path)
        assert response.status_code == 200, response.text
        return response.json()


async def test_a_run_failing_at_verify_exposes_every_result(
    service: Service, stages: FakeStages
) -> None:
    stages.fail[("verify", "1.1.2")] = _verify_failure()
    async with service.client() as client:
        response = await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
        assert response.status_code == 200
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            started = await client.post("/customers/acme/run", json={"maxAttempts": 1})
            run_id = started.json()["runId"]
            frames = await frames_until(ws, status_is("FAILED"))
    expected = {
        "stage": "verify",
        "code": "criteria_not_met",
        "message": "criteria not met: test.coverage, tests.pass",
        "details": {
            "results": RESULTS,
            "lastLines": {"testOutput": TEST_OUTPUT.splitlines()[-20:]},
        },
        "attempt": 1,
        "maxAttempts": 1,
        "attempts": [
            {"attempt": 1, "stage": "verify", "code": "criteria_not_met",
             "message": "criteria not met: test.coverage, tests.pass", "results": RESULTS}
        ],
    }  # fmt: skip
    assert frames[-1]["error"] == expected  # the FAILED execution-update
    assert (await _get(service, "/customers/acme"))["state"]["error"] == expected
    saved = await service.services.store.customers.load_all_states()
    assert saved["acme"]["error"] == expected  # the persisted state

    runs = (await _get(service, "/customers/acme/runs"))["runs"]
    assert [r["runId"] for r in runs] == [run_id]
    run = await _get(service, f"/customers/acme/runs/{run_id}")
    assert run == runs[0]
    assert (run["status"], run["error"]) == ("FAILED", expected)
    assert run["finishedAt"] is not None
    done, failed = run["tasks"]
    assert done["taskId"] == "1.1.1"
    assert [(s["stage"], s["outcome"], s["attempt"]) for s in done["stages"]] == [
        ("select", "ok", 1), ("prep", "ok", 1), ("implement", "ok", 1), ("verify", "ok", 1),
        ("complete", "ok", 1),
    ]  # fmt: skip
    assert done["stages"][3]["result"]["results"] == {
        "tests.pass": {"passed": True, "actual": "1 passed", "required": "true"}
    }
    assert failed["taskId"] == "1.1.2"
    assert [(s["stage"], s["outcome"], s["attempt"]) for s in failed["stages"]] == [
        ("select", "ok", 1), ("prep", "ok", 1), ("implement", "ok", 1), ("verify", "failed", 1),
    ]  # fmt: skip  # each task's SELECT is its first
    # the stage's record holds its own error; the run's error adds the task's attempts
    assert failed["stages"][-1]["result"] == {k: expected[k] for k in ("stage", "code",
                                              "message", "details")}  # fmt: skip
    for stage in (*done["stages"], *failed["stages"]):
        assert stage["durationS"] >= 0
        assert stage["startedAt"] <= stage["finishedAt"]


async def test_a_resumed_run_counts_the_retried_stage_as_attempt_two(
    service: Service, stages: FakeStages
) -> None:
    stages.tasks = ("1.1.1",)
    stages.fail[("verify", "1.1.1")] = _verify_failure()
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
    url = f"{service.ws_url}/ws/devteam?customerId=acme"
    with trio.fail_after(30):
        async with open_websocket_url(url) as ws, service.client() as client:
            started = await client.post("/customers/acme/run", json={"maxAttempts": 1})
            run_id = started.json()["runId"]
            await frames_until(ws, status_is("FAILED"))
            del stages.fail[("verify", "1.1.1")]
            assert (await client.post("/customers/acme/resume")).status_code == 200
            await frames_until(ws, status_is("DONE"))
    run = await _get(service, f"/customers/acme/runs/{run_id}")
    verifies = [(s["outcome"], s["attempt"]) for t in run["tasks"] for s in t["stages"]
                if s["stage"] == "verify"]  # fmt: skip
    assert verifies == [("failed", 1), ("ok", 2)]
    assert (run["status"], run["error"]) == ("DONE", None)


async def test_an_unknown_run_is_404(service: Service) -> None:
    async with service.client() as client:
        await client.put("/customers/acme", json={"repoUrl": "/srv/acme"})
        response = await client.get("/customers/acme/runs/nope")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "run_not_found"
        response = await client.get("/customers/acme/runs?limit=0")
        assert response.status_code == 400
