"""POST /implement with the real aider CLI against a local OpenAI-compatible fake."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio

from runner.pipeline import PipelineStages
from tests.helpers.calc_repo import make_calc_remote
from tests.helpers.fake_llm import MODEL, FakeLLM, model_metadata
from tests.helpers.service import running_service, service_settings

if TYPE_CHECKING:
    from runner.config import Settings

AIDER = os.environ.get(
    "AIDER_TEST_PATH", str(Path(__file__).resolve().parents[2] / ".venv-aider" / "bin" / "aider")
)
pytestmark = pytest.mark.skipif(not Path(AIDER).exists(), reason=f"aider not installed at {AIDER}")
API_KEY = "sk-test-" + "k" * 24


def _settings(tmp_path: Path, llm: FakeLLM) -> Settings:
    metadata = tmp_path / "model-metadata.json"
    metadata.write_text(json.dumps(model_metadata()))
    return service_settings(
        tmp_path,
        aider_path=AIDER,
        aider_model=MODEL,
        aider_args=("--openai-api-base", llm.base_url, "--model-metadata-file", str(metadata)),
        model_env={"OPENAI_API_KEY": API_KEY},
        tool_timeout_s=120.0,
    )


async def test_implement_with_real_aider_commits_the_edit(tmp_path: Path) -> None:
    remote = make_calc_remote(tmp_path)
    add = "def add(a: int, b: int) -> int:\n    return a + b"
    llm = FakeLLM(respond=FakeLLM.edit_reply(
        "calc/ops.py", add, add + "\n\n\ndef sub(a: int, b: int) -> int:\n    return a - b"
    ))  # fmt: skip
    with trio.fail_after(180):
        async with trio.open_nursery() as nursery:
            await nursery.start(llm.serve)
            async with running_service(_settings(tmp_path, llm), PipelineStages()) as service:
                async with service.client() as client:
                    prep = await client.post(
                        "/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"}
                    )
                    implement = await client.post(
                        "/implement", json={"taskId": "1.1.1", "branch": prep.json()["branch"]}
                    )
            nursery.cancel_scope.cancel()
    assert implement.status_code == 200, implement.text
    body = implement.json()
    assert body["tool"] == "aider"
    assert "+def sub(a: int, b: int) -> int:" in body["artifacts"]["diff"]
    assert body["artifacts"]["filesModified"] == ["calc/ops.py"]
    assert body["artifacts"]["tokens"]
    assert API_KEY not in implement.text
    prompt = json.dumps(llm.requests[0])
    assert "Add sub function to calc/ops.py" in prompt
    assert "every operation is tested" in prompt  # the group's criterion reaches the tool


async def test_implement_when_the_model_rate_limits_is_model_rate_limited(tmp_path: Path) -> None:
    remote = make_calc_remote(tmp_path)
    body = b'{"error": {"message": "Rate limit reached", "type": "requests"}}'
    llm = FakeLLM(respond=FakeLLM.status_reply(429, body))
    with trio.fail_after(180):
        async with trio.open_nursery() as nursery:
            await nursery.start(llm.serve)
            settings = attrs.evolve(_settings(tmp_path, llm), tool_retry_limit=1)
            async with running_service(settings, PipelineStages()) as service:
                async with service.client() as client:
                    prep = await client.post(
                        "/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"}
                    )
                    implement = await client.post(
                        "/implement", json={"taskId": "1.1.1", "branch": prep.json()["branch"]}
                    )
            nursery.cancel_scope.cancel()
    assert implement.status_code == 500
    body_json = implement.json()
    assert body_json["error"]["code"] == "model_rate_limited", implement.text  # not no change
    assert body_json["failure"]["transient"] is True
    assert body_json["failure"]["line"].startswith("litellm.RateLimitError")
    assert "Retrying in" in body_json["artifacts"]["stdout"]
    assert API_KEY not in implement.text


async def test_implement_after_a_rate_limit_aider_got_past_commits_the_edit(
    tmp_path: Path,
) -> None:
    remote = make_calc_remote(tmp_path)
    add = "def add(a: int, b: int) -> int:\n    return a + b"
    neg = add + "\n\n\ndef neg(a: int) -> int:\n    return -a"
    edit = FakeLLM.edit_reply("calc/ops.py", add, neg)
    limited = FakeLLM.status_reply(429, b'{"error": {"message": "Rate limit reached"}}')
    answers = [limited] * 3  # the client retries twice by itself, then aider sees the 429

    def respond(request: dict[str, Any]) -> tuple[int, bytes]:
        return (answers.pop() if answers else edit)(request)

    llm = FakeLLM(respond=respond)
    with trio.fail_after(180):
        async with trio.open_nursery() as nursery:
            await nursery.start(llm.serve)
            async with running_service(_settings(tmp_path, llm), PipelineStages()) as service:
                async with service.client() as client:
                    prep = await client.post(
                        "/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"}
                    )
                    implement = await client.post(
                        "/implement", json={"taskId": "1.1.1", "branch": prep.json()["branch"]}
                    )
            nursery.cancel_scope.cancel()
    assert implement.status_code == 200, implement.text
    assert "RateLimitError" in implement.json()["artifacts"]["stdout"]  # it was there, and passed
    assert "+def neg(a: int) -> int:" in implement.json()["artifacts"]["diff"]
