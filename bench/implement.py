"""Benchmark IMPLEMENT's tool adapter: its overhead over the tool process itself.

Overhead = wall time of ``Tool.run`` minus the tool process's own duration (``ToolRun.duration``):
the environment, the prompt (file), the program lookup, the hidden aider files, redaction and
usage parsing. Runs ``--rounds`` times (default 20) and prints p50/p99 (goal: <= 50 ms).

* ``command`` (default): ``CommandTool`` with a trivial shell script that appends to a file;
* ``--aider``: the real aider CLI against the fake LLM of ``tests/helpers/fake_llm.py``
  (each round takes seconds: aider's own start-up).

The lead extends this to HTTP ``/implement`` (runner overhead = request wall time minus the
tool's time).

Run: ``.venv/bin/python bench/implement.py [--rounds N] [--aider]``
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

from runner.config import Settings
from runner.tools import ToolRequest, make_tool
from tests.helpers.fake_llm import MODEL, FakeLLM, model_metadata
from tests.tools.conftest import make_repo

AIDER = os.environ.get("AIDER_TEST_PATH") or str(
    Path(__file__).resolve().parent.parent / ".venv-aider" / "bin" / "aider"
)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


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
        script = root / "tool.sh"
        script.write_text('#!/bin/sh\necho "# $DEVTEAM_TASK_ID" >> src/counter.py\n')
        script.chmod(0o755)
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


def main() -> None:
    """Run the benchmark and print p50/p99 of wall, tool and overhead times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--aider", action="store_true", help="run the real aider CLI")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-implement-") as tmp:
        samples = trio.run(_measure, Path(tmp), args.rounds, args.aider)
    walls = [w * 1000 for w, _ in samples]
    tools = [d * 1000 for _, d in samples]
    overheads = [w - d for w, d in zip(walls, tools, strict=True)]
    tool_name = "aider (fake LLM)" if args.aider else "command (trivial script)"
    print(f"tool: {tool_name}, rounds: {args.rounds}")
    for label, values in (("wall", walls), ("tool process", tools), ("overhead", overheads)):
        print(
            f"{label:>13}: p50 {_percentile(values, 0.5):8.1f} ms  "
            f"p99 {_percentile(values, 0.99):8.1f} ms  mean {statistics.fmean(values):8.1f} ms"
        )
    print("goal: overhead p50/p99 <= 50 ms")


if __name__ == "__main__":
    main()
