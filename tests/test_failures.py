"""The failure table against what the real aider and git print (tests/fixtures/failures/)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from runner.errors import GitError, RepoAccessError, ToolError, VerifyError
from runner.failures import RULES, classify, transient
from tests.helpers.failure_scenarios import FIXTURES, SCENARIOS, Scenario, aider_path, capture

if TYPE_CHECKING:
    from pathlib import Path

needs_aider = pytest.mark.skipif(
    not aider_path().exists(),
    reason=f"the aider CLI is not at {aider_path()}; run `make aider` or set AIDER_TEST_PATH",
)
LIVE_AIDER = ("aider-429-rate-limit", "aider-401-bad-key")
"""The aider scenarios run live (a few seconds each): one transient, one permanent."""


def recording(scenario: Scenario) -> str:
    return (FIXTURES / f"{scenario.name}.txt").read_text()


def same_line(line: str) -> str:
    """A matching line with what varies between runs (byte counts, delays) blanked."""
    return re.sub(r"\d+(?:\.\d+)?", "N", line)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_recording_classifies_to_its_code_and_kind(scenario: Scenario) -> None:
    text = recording(scenario)
    failure = classify(scenario.source, text)
    assert failure is not None, text
    assert (failure.code, failure.kind) == (scenario.code, scenario.kind)
    assert failure.line
    assert failure.line in text


def test_every_recording_has_a_scenario() -> None:
    names = {path.stem for path in FIXTURES.glob("*.txt")}
    assert names == {scenario.name for scenario in SCENARIOS}


def test_every_code_has_one_kind() -> None:
    kinds: dict[str, set[str]] = {}
    for rule in RULES:
        kinds.setdefault(rule.code, set()).add(rule.kind)
    assert all(len(found) == 1 for found in kinds.values()), kinds


def test_failure_table_reads_only_its_own_source() -> None:
    aider = recording(SCENARIOS[0])
    assert classify("git", aider) is None
    git_503 = "fatal: unable to access 'http://h/x.git/': The requested URL returned error: 503"
    assert classify("tool", git_503) is None


AIDER_OK = """\
Aider v0.86.2
Model: openai/fake-coder with diff edit format
Git repo: .git with 1 files
Added src/flags.py to the chat.
Here is the change.

src/flags.py
```
<<<<<<< SEARCH
    return True
=======
    return False
>>>>>>> REPLACE
```
Tokens: 120 sent, 30 received. Cost: $0.00018 message, $0.00018 session.
Applied edit to src/flags.py
"""
AIDER_NO_CHANGE = """\
Aider v0.86.2
Model: openai/fake-coder with diff edit format
Added src/flags.py to the chat.
I am not sure what to change.
Tokens: 120 sent, 30 received. Cost: $0.00018 message, $0.00018 session.
"""
AIDER_TALKS_ABOUT_ERRORS = """\
I added a handler: when the client raises litellm.RateLimitError or a connection
refused error, it is retried. The API key is not found in the logs.
Applied edit to src/client.py
"""
FAILING_TESTS = """\
============================= test session starts ==============================
collected 3 items

tests/test_client.py F..                                                 [100%]
E   ConnectionRefusedError: [Errno 111] Connection refused
E   requests.exceptions.HTTPError: 503 Server Error: Service Unavailable
FAILED tests/test_client.py::test_fetch - requests.exceptions.ConnectionError: timed out
========================= 1 failed, 2 passed in 0.12s ==========================
"""
GIT_NOT_REMOTE = (
    "fatal: bad object deadbeef",
    "fatal: couldn't find remote ref refs/heads/main",
    "error: Your local changes to the following files would be overwritten by checkout",
    "CONFLICT (content): Merge conflict in src/app.py",
    " ! [rejected]        main -> main (non-fast-forward)\nerror: failed to push some refs",
)


@pytest.mark.parametrize(
    "text",
    [AIDER_OK, AIDER_NO_CHANGE, AIDER_TALKS_ABOUT_ERRORS, FAILING_TESTS, ""],
    ids=["edit", "no-change", "reply-about-errors", "failing-tests", "empty"],
)
def test_ordinary_tool_output_is_no_failure(text: str) -> None:
    assert classify("tool", text) is None


@pytest.mark.parametrize("text", GIT_NOT_REMOTE)
def test_git_failures_of_the_repo_itself_are_not_remote_failures(text: str) -> None:
    assert classify("git", text) is None


def test_failure_line_is_the_first_line_its_row_matched() -> None:
    text = (FIXTURES / "git-clone-early-eof.txt").read_text()
    failure = classify("git", text)
    assert failure is not None
    assert failure.line == text.splitlines()[0]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ToolError("x", code="model_rate_limited"), True),
        (ToolError("x", code="model_unavailable"), True),
        (RepoAccessError("x", code="git_remote_unavailable"), True),
        (RepoAccessError("x", code="git_timeout"), True),
        (ToolError("x", code="model_auth_failed"), False),
        (ToolError("x", code="model_not_found"), False),
        (RepoAccessError("x", code="git_auth_failed"), False),
        (RepoAccessError("x", code="repo_not_found"), False),
        (RepoAccessError("x"), False),
        (GitError("x"), False),
        (ToolError("x", code="tool_no_change"), False),
        (ToolError("x", code="tool_timeout"), False),
        (VerifyError("x"), False),
    ],
    ids=lambda value: getattr(value, "code", str(value)),
)
def test_transient_by_code(error: ToolError, expected: bool) -> None:
    assert transient(error) is expected


async def _live(scenario: Scenario, tmp_path: Path) -> None:
    """Run ``scenario`` now: it must classify as recorded, from the same line."""
    recorded = classify(scenario.source, recording(scenario))
    live = classify(scenario.source, await capture(scenario, tmp_path))
    assert recorded is not None
    assert live is not None, f"{scenario.name}: the table no longer matches what is printed"
    assert (live.code, live.kind) == (recorded.code, recorded.kind)
    assert same_line(live.line) == same_line(recorded.line)


@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s.source == "git"], ids=lambda s: s.name
)
async def test_git_still_prints_what_was_recorded(scenario: Scenario, tmp_path: Path) -> None:
    await _live(scenario, tmp_path)


@pytest.mark.aider
@needs_aider
@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s.name in LIVE_AIDER], ids=lambda s: s.name
)
async def test_aider_still_prints_what_was_recorded(scenario: Scenario, tmp_path: Path) -> None:
    await _live(scenario, tmp_path)
