"""Benchmark IMPLEMENT: runner overhead over the coding tool process itself.

Two measurements, each over ``--rounds`` runs (default 20), printing p50/p99 (goal: <= 50 ms):

* ``http`` (end to end): ``POST /implement`` on the service running as a child process, with
  the ``command`` tool (``TOOL_COMMAND``) running a trivial shell script. Every round first
  ``POST /prep``s a new task (untimed) so each /implement runs on a fresh task branch.
  Overhead = the request's wall time minus ``toolDuration`` (the tool process's own wall
  time); ``duration - toolDuration`` splits off what the stage itself adds (fetch, checkout,
  commit, diff, store) from HTTP and actor dispatch.
* ``adapter``: ``Tool.run`` called directly; overhead = its wall time minus
  ``ToolRun.duration`` (the environment, the prompt file, the program lookup, the hidden
  aider files, redaction and usage parsing). ``--aider`` runs the real aider CLI against the
  fake LLM of ``tests/helpers/fake_llm.py`` instead (each round takes seconds).

``--trace`` runs the service at ``LOG_LEVEL=debug`` and lists the git processes each
/implement ran, with their times (debug logging adds a little to the figures).

Run: ``.venv/bin/python bench/implement.py [--rounds N] [--only http|adapter] [--aider] [--trace]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import http_client, percentile, post, served, task_list, timed_post
from runner.config import Settings
from runner.tools import ToolRequest, make_tool
from tests.helpers.fake_llm import MODEL, FakeLLM, model_metadata
from tests.helpers.gitrepo import make_remote
from tests.tools.conftest import make_repo

AIDER = os.environ.get("AIDER_TEST_PATH") or str(
    Path(__file__).resolve().parent.parent / ".venv-aider" / "bin" / "aider"
)


def _request(repo: Path, round_no: int) -> ToolRequest:
    return ToolRequest(
        task_id=f"1.1.{round_no}",
        title="Bump the counter",
        description="Bump the counter in src/counter.py",
        files=("src/counter.py",),
        requirements=("criterion 1: the counter grows",),
        repo=repo,
        customer_id="bench",
    )


def _settings(root: Path, use_aider: bool, llm: FakeLLM | None) -> Settings:
    if not use_aider:
        script = _trivial_tool(root)
        return Settings(tool_command=(str(script),), model_env={"OPENAI_API_KEY": "sk-bench-0000"})
    assert llm is not None
    metadata = root / "metadata.json"
    metadata.write_text(json.dumps(model_metadata()))
    return Settings(
        aider_path=AIDER,
        aider_model=MODEL,
        aider_args=("--openai-api-base", llm.base_url, "--model-metadata-file", str(metadata)),
        model_env={"OPENAI_API_KEY": "sk-bench-0000"},
    )


async def _measure(root: Path, rounds: int, use_aider: bool) -> list[tuple[float, float]]:
    repo = await make_repo(root / "repo", {"src/counter.py": "counter = 0\n"})
    home = root / "home"
    home.mkdir()
    samples = []
    async with trio.open_nursery() as nursery:
        llm = None
        if use_aider:
            llm = FakeLLM(
                respond=FakeLLM.edit_reply("src/counter.py", "counter = 0", "counter = 0")
            )
            await nursery.start(llm.serve)
        tool = make_tool(
            "aider" if use_aider else "command", _settings(root, use_aider, llm), home=home
        )
        for round_no in range(rounds):
            started = time.perf_counter()
            run = await tool.run(_request(repo, round_no))
            wall = time.perf_counter() - started
            samples.append((wall, run.duration))
        nursery.cancel_scope.cancel()
    return samples


def _trivial_tool(root: Path) -> Path:
    script = root / "tool.sh"
    script.write_text('#!/bin/sh\necho "# $DEVTEAM_TASK_ID" >> src/counter.py\n')
    script.chmod(0o755)
    return script


def _git_runs(log: Path | None, offset: int) -> tuple[int, list[tuple[str, float]]]:
    """Return the log's new end and the ``git_ran`` lines (command, seconds) past ``offset``."""
    if log is None:
        return 0, []
    with log.open("rb") as stream:
        stream.seek(offset)
        data = stream.read()
    runs = []
    for line in data.splitlines():
        if line.startswith(b"{") and b'"git_ran"' in line:
            entry = json.loads(line)
            runs.append((entry["command"], entry["duration_s"]))
    return offset + len(data), runs


async def _measure_http(
    root: Path, url: str, rounds: int, log: Path | None
) -> tuple[list[tuple[float, float, float]], list[list[tuple[str, float]]]]:
    """Time ``rounds`` /implement calls after a warm-up: (wall, duration, toolDuration) each.

    With ``log`` (the service's debug log), also return each call's git runs.
    """
    remote = make_remote(
        root / "counter.git",
        {
            "src/counter.py": "counter = 0\n",
            "docs/DevTeam/tasks_list.md": task_list(rounds + 1, "src/counter.py"),
        },
    )
    samples, traces = [], []
    async with http_client(url) as client:
        for round_no in range(rounds + 1):
            task = f"1.1.{round_no + 1}"
            await post(client, "/prep", {"repoUrl": str(remote), "taskId": task,
                                         "customerId": "bench"})  # fmt: skip
            body = {"taskId": task, "customerId": "bench", "tool": "command"}
            offset, _ = _git_runs(log, 0)
            wall, result = await timed_post(client, "/implement", body)
            _, git_runs = _git_runs(log, offset)
            if not result["artifacts"]["filesModified"] == ["src/counter.py"]:
                raise RuntimeError(f"unexpected result: {result}")
            if round_no:  # round 0 warms up the service (imports, store, workspace)
                samples.append((wall, result["duration"], result["toolDuration"]))
                traces.append(git_runs)
    return samples, traces


def _row(label: str, values: list[float]) -> str:
    return (
        f"{label:>28}  {percentile(values, 0.5):8.1f}  {percentile(values, 0.99):8.1f}  "
        f"{statistics.fmean(values):8.1f}"
    )


def _print_http(samples: list[tuple[float, float, float]]) -> None:
    walls = [w * 1000 for w, _, _ in samples]
    stages = [d * 1000 for _, d, _ in samples]
    tools = [t * 1000 for _, _, t in samples]
    print(f"POST /implement, command tool (trivial script), {len(samples)} runs after 1 warm-up")
    print(f"{'':>28}  {'p50 ms':>8}  {'p99 ms':>8}  {'mean ms':>8}")
    print(_row("request wall", walls))
    print(_row("stage duration", stages))
    print(_row("tool process (toolDuration)", tools))
    print(_row("overhead: wall - tool", [w - t for w, t in zip(walls, tools, strict=True)]))
    print(_row("  stage: duration - tool", [d - t for d, t in zip(stages, tools, strict=True)]))
    print(
        _row("  HTTP+actor: wall - duration", [w - d for w, d in zip(walls, stages, strict=True)])
    )
    print("goal: overhead (wall - tool) p50/p99 <= 50 ms")


def _print_trace(traces: list[list[tuple[str, float]]]) -> None:
    by_command: dict[str, list[float]] = {}
    for runs in traces:
        per_call: dict[str, float] = {}
        for command, seconds in runs:
            per_call[command] = per_call.get(command, 0.0) + seconds * 1000
        for command, total in per_call.items():
            by_command.setdefault(command, []).append(total)
    print(f"git processes per /implement (service at LOG_LEVEL=debug, {len(traces)} runs)")
    print(f"{'git command':>28}  {'runs':>8}  {'p50 ms':>8}")
    for command, totals in sorted(by_command.items(), key=lambda kv: -statistics.median(kv[1])):
        count = sum(1 for runs in traces for name, _ in runs if name == command) / len(traces)
        print(f"{command:>28}  {count:8.1f}  {statistics.median(totals):8.1f}")
    totals = [sum(seconds for _, seconds in runs) * 1000 for runs in traces]
    print(f"{'all git':>28}  {len(traces[0]):8d}  {statistics.median(totals):8.1f}")


def _run_http(rounds: int, trace: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-implement-http-") as tmp:
        root = Path(tmp)
        env = {
            "TOOL_COMMAND": str(_trivial_tool(root)),
            "TOOL_TIMEOUT_S": "60",
            "ALLOW_LOCAL_REPOS": "true",
        }
        log = root / "service.log" if trace else None
        if trace:
            env.update(LOG_LEVEL="debug", LOG_FORMAT="json")
        with served(env, log_path=log) as url:

            async def bench() -> tuple[
                list[tuple[float, float, float]], list[list[tuple[str, float]]]
            ]:
                with trio.fail_after(600):
                    return await _measure_http(root, url, rounds, log)

            samples, traces = trio.run(bench)
        _print_http(samples)
        if trace:
            print()
            _print_trace(traces)


def _run_adapter(rounds: int, use_aider: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-implement-") as tmp:
        samples = trio.run(_measure, Path(tmp), rounds, use_aider)
    walls = [w * 1000 for w, _ in samples]
    tools = [d * 1000 for _, d in samples]
    overheads = [w - d for w, d in zip(walls, tools, strict=True)]
    tool_name = "aider (fake LLM)" if use_aider else "command (trivial script)"
    print(f"Tool.run (adapter only), tool: {tool_name}, {rounds} runs")
    print(f"{'':>28}  {'p50 ms':>8}  {'p99 ms':>8}  {'mean ms':>8}")
    print(_row("wall", walls))
    print(_row("tool process", tools))
    print(_row("overhead: wall - tool", overheads))


def main() -> None:
    """Run the benchmarks and print p50/p99 of wall, tool and overhead times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--only", choices=("http", "adapter"), help="run one measurement")
    parser.add_argument("--aider", action="store_true", help="adapter: the real aider CLI")
    parser.add_argument(
        "--trace", action="store_true", help="http: also list the git processes each call ran"
    )
    args = parser.parse_args()
    if args.only != "adapter":
        _run_http(args.rounds, args.trace)
    if args.only is None:
        print()
    if args.only != "http":
        _run_adapter(args.rounds, args.aider)


if __name__ == "__main__":
    main()
