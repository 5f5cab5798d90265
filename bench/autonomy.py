"""Autonomy: how many tasks the autopilot finishes alone with the repair loop, and how truly.

The real aider CLI runs against a scripted local model (``tests/helpers/fake_llm.py``) over a
corpus of 23 tasks in two repositories (bench/_autonomy_corpus.py): a Python package (pytest,
coverage, ``mypy --strict``) with 12 tasks and a TypeScript package (vitest + istanbul,
``tsc``) with 11. The model answers in aider's SEARCH/REPLACE format. Some tasks it gets
right at once; some it first gets wrong the way models do (a bug its own test catches, a
type error, new code without tests so coverage of the touched file is under 80 %, a reply
with no edit) and gets right only when the prompt it receives carries the evidence the
runner's repair prompt gives (the failing test, the type error line, the file's "N/M lines
covered", "made no change"); four tasks it never gets right (the same wrong edit again, or a
different wrong edit each time).

The whole service runs as a child process (``devteam-runner serve``) and is driven over
HTTP, once with ``maxAttempts`` 1 and once with 3, each on fresh bare remotes: ``PUT
/customers/{id}`` (``push: true``, tool ``aider``), ``POST /customers/{id}/run``, and ``GET
/customers/{id}`` until DONE or FAILED. The Python and TypeScript customers run at the same
time. A FAILED run stops at its task; the bench then acts as the operator who gives up on
it: ``POST /customers/{id}/tasks/{taskId}/skip`` with a reason (every task has
``**Dependencies**: none``, so nothing waits on it), then ``POST /customers/{id}/resume``:
the same run moves on to the next task, until DONE. The task list on the remote is left as
the service wrote it. Transient model failures are retried by the service with a short
backoff (``TRANSIENT_BACKOFF_S`` 0.5), so a hiccup of the scripted model cannot stall it.

Output, one column per ``maxAttempts``:

- ``completed / repairable / total``: tasks the runner merged and marked done; tasks some
  answer of the model can pass (all but the never-right ones); all tasks.
- ``completion rate``: completed / repairable. Goal: 100 % at ``maxAttempts`` 3.
- ``attempts used``: IMPLEMENT runs (tool runs) over all tasks, from the runs' records.
- ``runs / skips / resumes``: runs started (one per customer), tasks the operator skipped,
  and resumes after them.
- ``other error codes``: codes other than ``criteria_not_met``, ``tool_no_change`` and
  ``repair_no_progress``, in the errors runs stopped with, and in the stages that failed
  (a transient model failure the service waited out shows only here). Goal: 0 / 0.
- ``wall time``: from ``POST /run`` to the last customer's DONE, skips and resumes included.
- ``false completions``: tasks marked done whose change fails the gates in a fresh clone of
  the remote (bench/_fresh_gates.py: the repository's tests, coverage of the files the task's
  merge touched, the type check, all run by the bench), and skipped tasks that are marked
  done or have a merge on ``main`` all the same. Goal: 0.

Then one row per task: its kind, and per ``maxAttempts`` the attempts it took and how it
ended (``done``, or ``skip:`` and the code that stopped it: ``criteria_not_met``,
``tool_no_change``, ``repair_no_progress``), plus what the fresh clone found.

Needs aider (``AIDER_TEST_PATH``, else ``.venv-aider/bin/aider``, else ``aider`` on PATH),
node and npm (npm's cache warm with tests/fixtures/ts-toolchain). No network.

Run: ``.venv/bin/python bench/autonomy.py [--only python|ts] [--tasks N] [--attempts 1,3]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._autonomy_corpus import PYTHON_FILES, TASKS, Task, render, task_list, ts_files
from bench._fresh_gates import TASKS_FILE, FreshCheck, check_remote
from bench._server import http_client, served
from tests.helpers.fake_llm import MODEL, FakeLLM, model_metadata
from tests.helpers.gitrepo import make_remote

if TYPE_CHECKING:
    import httpx

REPOS = ("python", "ts")
DEADLINE_S = 1500.0
POLL_S = 0.5
EXPECTED_CODES = frozenset({"criteria_not_met", "tool_no_change", "repair_no_progress"})
"""The codes a run of this corpus may stop with: the model's answers, not the machinery."""
_TITLE = re.compile(r"^Task [\d.]+: (.+)$", re.MULTILINE)


def aider_path() -> str:
    """The aider CLI: ``AIDER_TEST_PATH``, else the repo's ``.venv-aider``, else PATH."""
    beside = Path(__file__).resolve().parents[1] / ".venv-aider" / "bin" / "aider"
    found = os.environ.get("AIDER_TEST_PATH") or (str(beside) if beside.exists() else None)
    found = found or shutil.which("aider")
    if found is None:
        raise SystemExit("aider not found: set AIDER_TEST_PATH")
    return found


# -- the scripted model -------------------------------------------------------------------


def _prompt(body: dict[str, Any]) -> str:
    """Everything aider sent: system prompt, the files in the chat, the task, the evidence."""
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            content = "\n".join(str(part.get("text", "")) for part in content)
        parts.append(str(content or ""))
    return "\n".join(parts)


@attrs.define
class ScriptedModel:
    """Answer each request by the task its prompt names; count the calls per task."""

    tasks: dict[str, Task]
    calls: dict[str, int] = attrs.field(factory=dict)

    def respond(self, body: dict[str, Any]) -> tuple[int, bytes]:
        """FakeLLM's responder: the task's answer to this prompt."""
        prompt = _prompt(body)
        match = _TITLE.search(prompt)
        task = self.tasks.get(match[1].strip()) if match else None
        if task is None:
            return FakeLLM.text_reply("Nothing to change.")(body)
        key = f"{task.repo} {task.task_id}"
        self.calls[key] = self.calls.get(key, 0) + 1
        return FakeLLM.text_reply(render(task.answer(prompt)))(body)


# -- driving the service --------------------------------------------------------------------


@attrs.define
class Outcome:
    """One customer's run over its task list at one ``maxAttempts``."""

    repo: str
    max_attempts: int
    remote: Path
    runs: int = 0
    """Runs in the customer's record (one: the operator resumes, never starts again)."""
    skipped: dict[str, str] = attrs.field(factory=dict)
    """Task id -> the error code that stopped it (the operator then skipped it)."""
    resumes: int = 0
    other_codes: Counter[str] = attrs.field(factory=Counter)
    """Unexpected codes (not :data:`EXPECTED_CODES`): ``run <code>`` and ``stage <code>``."""
    attempts: dict[str, int] = attrs.field(factory=dict)
    stage_s: dict[str, list[float]] = attrs.field(factory=dict)
    """Stage name -> the duration of each time a stage ran."""
    wall: float = 0.0
    check: FreshCheck | None = None


def build_remote(root: Path, repo: str, tasks: list[Task]) -> Path:
    """A bare remote of ``repo`` whose task list holds ``tasks``."""
    files = dict(PYTHON_FILES if repo == "python" else ts_files())
    files[TASKS_FILE] = task_list(tasks)
    return make_remote(root / f"{repo}.git", files)


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], expect: int) -> None:
    response = await client.post(path, json=body)
    if response.status_code != expect:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:2000]}")


def skip_reason(state: dict[str, Any]) -> str:
    """The operator's reason for giving up on the task a FAILED run stopped at (one line)."""
    error = state.get("error") or {}
    message = " ".join(str(error.get("message", "")).split())
    where = f"at attempt {state.get('attempt')} of {state.get('maxAttempts')}"
    reason = f"bench operator gives up: {error.get('stage')} {error.get('code')} {where}: {message}"
    return reason[:500]


async def _wait_final(client: httpx.AsyncClient, customer: str) -> dict[str, Any]:
    while True:
        response = await client.get(f"/customers/{customer}")
        response.raise_for_status()
        state: dict[str, Any] = response.json()["state"]
        if state["status"] in {"DONE", "FAILED", "STOPPED"}:
            return state
        await trio.sleep(POLL_S)


async def _read_runs(client: httpx.AsyncClient, customer: str, outcome: Outcome) -> None:
    """Runs, IMPLEMENT runs per task, stage durations and unexpected stage failure codes."""
    response = await client.get(f"/customers/{customer}/runs", params={"limit": 100})
    response.raise_for_status()
    runs = response.json()["runs"]
    outcome.runs = len(runs)
    for run in runs:
        for task in run["tasks"]:
            for stage in task["stages"]:
                outcome.stage_s.setdefault(stage["stage"], []).append(stage["durationS"] or 0.0)
                code = (stage["result"] or {}).get("code") if stage["outcome"] == "failed" else None
                if code is not None and code not in EXPECTED_CODES:
                    outcome.other_codes[f"stage {code}"] += 1
            count = sum(1 for stage in task["stages"] if stage["stage"] == "implement")
            if task["taskId"] is not None and count:
                outcome.attempts[task["taskId"]] = outcome.attempts.get(task["taskId"], 0) + count


async def drive(client: httpx.AsyncClient, outcome: Outcome) -> None:
    """Run one customer to DONE; skip each task the run fails on and resume the run."""
    customer = f"{outcome.repo}-a{outcome.max_attempts}"
    body = {"repoUrl": str(outcome.remote), "tool": "aider", "push": True}
    (await client.put(f"/customers/{customer}", json=body)).raise_for_status()
    started = time.perf_counter()
    await _post(client, f"/customers/{customer}/run", {"maxAttempts": outcome.max_attempts}, 202)
    while (state := await _wait_final(client, customer))["status"] != "DONE":
        task_id, error = state.get("currentTask"), state.get("error") or {}
        if state["status"] != "FAILED" or task_id is None or task_id in outcome.skipped:
            raise RuntimeError(f"{customer} ended {state['status']}: {json.dumps(error)[:2000]}")
        code = str(error.get("code"))
        outcome.skipped[task_id] = code
        if code not in EXPECTED_CODES:
            outcome.other_codes[f"run {code}"] += 1
        skip = {"reason": skip_reason(state)}
        await _post(client, f"/customers/{customer}/tasks/{task_id}/skip", skip, 200)
        await _post(client, f"/customers/{customer}/resume", {}, 200)
        outcome.resumes += 1
    outcome.wall = time.perf_counter() - started
    await _read_runs(client, customer, outcome)


def service_env(root: Path, llm: FakeLLM) -> dict[str, str]:
    """The service's environment: aider against the scripted model, local remotes allowed."""
    metadata = root / "model-metadata.json"
    metadata.write_text(json.dumps(model_metadata()))
    args = ["--openai-api-base", llm.base_url, "--model-metadata-file", str(metadata)]
    return {
        "AIDER_PATH": aider_path(),
        "AIDER_MODEL": MODEL,
        "AIDER_ARGS": shlex.join(args),
        "OPENAI_API_KEY": "sk-bench-0000",
        "ALLOW_LOCAL_REPOS": "true",
        "TOOL_TIMEOUT_S": "300",
        "TRANSIENT_BACKOFF_S": "0.5",  # a hiccup of the scripted model must not stall the bench
        "DEPS_CACHE_DIR": str(root / "deps"),
    }


async def run_all(root: Path, corpus: dict[str, list[Task]], attempts: list[int]) -> list[Outcome]:
    """Serve the model and the service; run every repo at every ``maxAttempts``."""
    model = ScriptedModel({task.title: task for tasks in corpus.values() for task in tasks})
    if len(model.tasks) != sum(len(tasks) for tasks in corpus.values()):
        raise RuntimeError("two tasks share a title: the scripted model tells them by title")
    llm = FakeLLM(respond=model.respond)
    outcomes = []
    async with trio.open_nursery() as nursery:
        await nursery.start(llm.serve)
        with ExitStack() as stack:
            service = served(service_env(root, llm), log_path=root / "service.log")
            url = await trio.to_thread.run_sync(stack.enter_context, service)
            async with http_client(url) as client:
                for max_attempts in attempts:
                    batch = []
                    for repo, tasks in corpus.items():
                        folder = root / f"a{max_attempts}"
                        remote = build_remote(folder, repo, tasks)
                        batch.append(Outcome(repo, max_attempts, remote))
                    with trio.fail_after(DEADLINE_S):
                        async with trio.open_nursery() as runs:
                            for outcome in batch:
                                runs.start_soon(drive, client, outcome)
                    outcomes += batch
            await trio.to_thread.run_sync(stack.close)
        nursery.cancel_scope.cancel()
    return outcomes


# -- the report -----------------------------------------------------------------------------


def _pick(tasks: list[Task], count: int | None) -> list[Task]:
    """``count`` tasks spread over the list (every kind early on), or all of them."""
    if count is None or count >= len(tasks):
        return tasks
    return [tasks[i * len(tasks) // count] for i in range(count)]


def false_completions(outcome: Outcome) -> dict[str, list[str]]:
    """Return task id -> why it is a false completion.

    That is a done task failing the gates afresh, or a skipped task that the list marks done
    or that has a merge on ``main`` all the same.
    """
    check = outcome.check
    if check is None:
        return {}
    found = {task_id: problems for task_id, problems in check.done.items() if problems}
    for task_id in outcome.skipped:
        problems = ["skipped, yet marked done"] if task_id in check.done else []
        problems += ["skipped, yet merged on main"] if task_id in check.merged else []
        if problems:
            found[task_id] = found.get(task_id, []) + problems
    return found


def _task_row(task: Task, outcomes: list[Outcome]) -> str:
    cells = []
    for outcome in outcomes:
        used = outcome.attempts.get(task.task_id, 0)
        check, false = outcome.check, false_completions(outcome).get(task.task_id)
        if task.task_id in outcome.skipped:
            cell = f"{used} skip: {outcome.skipped[task.task_id]}"
        elif check is not None and task.task_id in check.done:
            cell = f"{used} done"
        else:
            cell = f"{used} ?"
        cells.append(cell + (f" FALSE: {'; '.join(false)}" if false else ""))
    label = f"{task.repo:<6} {task.task_id} {task.title}"
    return f"{label:<40} {task.kind:<9} " + "  ".join(f"{c:<26}" for c in cells)


def report(corpus: dict[str, list[Task]], outcomes: list[Outcome], attempts: list[int]) -> bool:
    """Print the side-by-side table and the per-task rows; return whether the goal is met."""
    tasks = [task for repo_tasks in corpus.values() for task in repo_tasks]
    repairable = sum(task.repairable for task in tasks)
    kinds = {
        kind: sum(t.kind == kind for t in tasks) for kind in dict.fromkeys(t.kind for t in tasks)
    }
    print(f"corpus: {len(tasks)} tasks ("
          + ", ".join(f"{repo} {len(ts)}" for repo, ts in corpus.items()) + "); kinds: "
          + ", ".join(f"{kind} {n}" for kind, n in kinds.items()))  # fmt: skip
    by_attempts = {n: [o for o in outcomes if o.max_attempts == n] for n in attempts}
    rows: dict[str, list[str]] = {
        "completed / repairable / total": [],
        "completion rate (of repairable)": [],
        "attempts used (tool runs)": [],
        "runs / skips / resumes": [],
        "other error codes: runs / stages": [],
        "wall time": [],
        "mean s: implement / verify": [],
        "false completions (fresh clone)": [],
    }
    goal = True
    for n, group in by_attempts.items():
        done = sum(len(o.check.done) for o in group if o.check is not None)
        false = sum(len(false_completions(o)) for o in group)
        other = sum((o.other_codes for o in group), Counter[str]())
        by_kind = [
            sum(n for code, n in other.items() if code.startswith(k)) for k in ("run", "stage")
        ]
        rate = 100.0 * done / repairable if repairable else 0.0
        rows["completed / repairable / total"].append(f"{done} / {repairable} / {len(tasks)}")
        rows["completion rate (of repairable)"].append(f"{rate:.0f} %")
        rows["attempts used (tool runs)"].append(str(sum(sum(o.attempts.values()) for o in group)))
        counts = (sum(o.runs for o in group), sum(len(o.skipped) for o in group),
                  sum(o.resumes for o in group))  # fmt: skip
        rows["runs / skips / resumes"].append(" / ".join(map(str, counts)))
        rows["other error codes: runs / stages"].append(" / ".join(map(str, by_kind)))
        rows["wall time"].append(f"{max(o.wall for o in group):.0f} s")
        stage_s = {name: [s for o in group for s in o.stage_s.get(name, [])]
                   for name in ("implement", "verify")}  # fmt: skip
        rows["mean s: implement / verify"].append(
            " / ".join(f"{sum(v) / len(v):.1f}" if v else "-" for v in stage_s.values())
        )
        rows["false completions (fresh clone)"].append(f"{false} of {done}")
        goal = goal and false == 0 and not other and (n < 3 or done == repairable)
    print()
    print(f"{'':<34}" + "".join(f"{f'maxAttempts={n}':>16}" for n in attempts))
    for label, cells in rows.items():
        print(f"{label:<34}" + "".join(f"{cell:>16}" for cell in cells))
    print()
    print(f"{'task':<40} {'kind':<9} "
          + "  ".join(f"{f'maxAttempts={n}: attempts, end':<26}" for n in attempts))  # fmt: skip
    for task in tasks:
        row_outcomes = [o for n in attempts for o in by_attempts[n] if o.repo == task.repo]
        print(_task_row(task, row_outcomes))
    for outcome in outcomes:
        if outcome.other_codes:
            codes = ", ".join(f"{code} x{n}" for code, n in outcome.other_codes.items())
            print(f"other error codes {outcome.repo} a{outcome.max_attempts}: {codes}")
        if outcome.check is not None and outcome.check.suite:
            print(f"fresh clone {outcome.repo} a{outcome.max_attempts}: "
                  + "; ".join(outcome.check.suite))  # fmt: skip
    verdict = "met" if goal else "NOT met"
    print(f"\ngoal: 100 % of repairable tasks at maxAttempts 3, 0 false completions, "
          f"no other error codes: {verdict}")  # fmt: skip
    return goal


def main() -> None:
    """Run the corpus at each ``maxAttempts``, check the remotes afresh, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=REPOS, help="one repository")
    parser.add_argument("--tasks", type=int, help="tasks per repository (spread over kinds)")
    parser.add_argument("--attempts", default="1,3", help="maxAttempts values, comma-separated")
    args = parser.parse_args()
    attempts = [int(x) for x in args.attempts.split(",")]
    corpus = {repo: _pick([t for t in TASKS if t.repo == repo], args.tasks)
              for repo in REPOS if args.only in (None, repo)}  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-autonomy-") as tmp:
        root = Path(tmp)
        try:
            outcomes = trio.run(run_all, root, corpus, attempts)
        except BaseException:
            log = root / "service.log"
            if log.exists():
                print("service log (tail):\n" + "\n".join(log.read_text().splitlines()[-30:]))
            raise
        checked = time.perf_counter()
        for outcome in outcomes:
            work = outcome.remote.parent / f"{outcome.repo}-fresh"
            outcome.check = check_remote(outcome.remote, outcome.repo, work)
        check_s = time.perf_counter() - checked
    print(f"aider {aider_path()} against a scripted model; customers {', '.join(corpus)} "
          f"run concurrently; {os.cpu_count()} CPUs")  # fmt: skip
    report(corpus, outcomes, attempts)
    print(f"fresh-clone checks {check_s:.0f} s; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
