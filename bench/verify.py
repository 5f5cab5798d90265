"""Runner overhead of VERIFY beyond its child processes, on the Python fixture.

Builds the Python fixture repository (tests/helpers/verify_repos.py), verifies its passing
branch ~10 times with every criterion (pytest under coverage, mypy --strict, ruff, docs)
and prints p50/p99 of ``duration - process_time``: what the runner itself adds (detection,
planning, report parsing, judging, temp-dir handling) beyond the wall time spent waiting on
the test, coverage-report, type-check and lint processes. Goal: <= 100 ms.

Run: ``.venv/bin/python bench/verify.py [runs]``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import structlog
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner.config import Settings
from runner.verify import verify
from tests.helpers.verify_repos import PYTHON_BRANCHES, PYTHON_MAIN, build_repo

CRITERIA = {
    "test.coverage": "≥80%",
    "type.strict": "0 errors",
    "lint.clean": "0 errors",
    "tests.pass": "true",
    "doc.updated": "task_outcomes.md",
}
GOAL_MS = 100.0


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _bench(runs: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        checkout = build_repo(Path(tmp), PYTHON_MAIN, {"pass": PYTHON_BRANCHES["pass"]})["pass"]
        settings = Settings()
        overheads, durations, processes = [], [], []
        for index in range(runs + 1):
            outcome = await verify(
                checkout.path, CRITERIA, changed_files=checkout.changed_files, settings=settings
            )
            if not outcome.passed:
                print(f"unexpected failure: {outcome.results_wire()}")
                return 1
            if index == 0:
                continue  # warm-up: fills mypy's cache and the OS page cache
            durations.append(outcome.duration * 1000)
            processes.append(outcome.process_time * 1000)
            overheads.append((outcome.duration - outcome.process_time) * 1000)
    p50, p99 = _percentile(overheads, 0.5), _percentile(overheads, 0.99)
    print(f"verify (python fixture, {runs} runs after 1 warm-up)")
    print(f"  wall      p50 {statistics.median(durations):7.1f} ms")
    print(f"  processes p50 {statistics.median(processes):7.1f} ms")
    print(f"  overhead  p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (goal <= {GOAL_MS:.0f} ms)")
    return 0 if p99 <= GOAL_MS else 1


def main() -> int:
    """Run the benchmark; exit 1 if the p99 overhead misses the goal."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with structlog.testing.capture_logs():  # keep the per-run log lines out of the report
        return trio.run(_bench, runs)


if __name__ == "__main__":
    sys.exit(main())
