"""Time parse + select on the real task list and on generated lists of 1,000 and 10,000 tasks.

Run: ``.venv/bin/python bench/tasks.py``. Prints the median and the best of several runs and
checks the budget: the real list ≤ 5 ms, 1,000 tasks ≤ 50 ms, 10,000 tasks ≤ 500 ms (SELECT
parses a list once per change of the file: the per-customer memo keeps the parse). The
generated lists look like the real one (style 1): phases of ten groups, groups of ten atomic
tasks with a link and a file name each, lettered checkpoints with criterion bullets, and group
dependencies on the previous group; the first half is marked done.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.tasks import mark_done, parse_task_list, select_next

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "tasks_list.md"


def generate(n_tasks: int, *, done_fraction: float = 0.5) -> str:
    """Return a style-1 task list with ``n_tasks`` atomic tasks."""
    lines = ["# Generated task list", ""]
    done_until = int(n_tasks * done_fraction)
    count = 0
    phase = 0
    while count < n_tasks:
        phase += 1
        deps = f"Phase {phase - 1} complete" if phase > 1 else "[src/app.js](src/app.js)"
        lines += [f"Phase {phase} — Generated phase {phase} (Dependencies: {deps})", ""]
        for group in range(1, 11):
            if count >= n_tasks:
                break
            gid = f"{phase}.{group}"
            gdeps = f"{phase}.{group - 1} Previous" if group > 1 else "[src/app.js](src/app.js)"
            lines.append(f"{gid} Group {gid} (Dependencies: {gdeps})")
            for task in range(1, 11):
                if count >= n_tasks:
                    break
                mark = " ✅" if count < done_until else ""
                lines.append(
                    f"{gid}.{task} Add feature {count} to [src/mod{count % 97}.js]"
                    f"(src/mod{count % 97}.js) with tests in test_{count}.py.{mark}"
                )
                count += 1
            lines.append(f"{gid}.A Validate outputs of Task {gid}")
            lines.append(f"{gid}.B Verify correctness of Task {gid} against acceptance criteria")
            lines.append("    - <criterion 1: Feature works>  [source: prd.md](docs/prd.md)")
            lines.append(f"{gid}.C Document results of Task {gid} in task_outcomes.md")
            lines.append("")
    return "\n".join(lines) + "\n"


def timed_ms(fn: object, runs: int) -> tuple[float, float]:
    """Run ``fn`` ``runs`` times; return the median and the best wall time in milliseconds.

    The best run is the one least disturbed by the other tenants of a shared machine.
    """
    assert callable(fn)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    """Print the figures, and which budgets the best runs miss."""
    cases: list[tuple[str, str, float]] = []
    if REAL.exists():
        cases.append(("real list (86 tasks)", REAL.read_text(encoding="utf-8"), 5))
    cases += [("generated 1,000", generate(1_000), 50), ("generated 10,000", generate(10_000), 500)]
    for name, text, budget in cases:
        selected = select_next(parse_task_list(text))
        assert selected.task is not None
        ms, best = timed_ms(lambda text=text: select_next(parse_task_list(text)), runs=11)
        task_id = selected.task.id
        mark_ms, _ = timed_ms(lambda text=text, t=task_id: mark_done(text, t), runs=5)
        print(
            f"{name:>22}: parse+select {ms:8.2f} ms (median of 11, best {best:.2f}, "
            f"budget {budget:g}{'' if best <= budget else ' MISSED'})   "
            f"mark_done {mark_ms:8.2f} ms   next={task_id} "
            f"progress={selected.progress}% lines={text.count(chr(10))}"
        )


if __name__ == "__main__":
    main()
