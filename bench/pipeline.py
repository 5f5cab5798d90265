"""The autopilot end to end: N customers x 5 tasks, tasks per minute and the service's RSS.

Each customer gets its own bare git remote (a 5-task list) and the ``command`` tool running a
tiny shell script that edits one file and appends to ``task_outcomes.md``. The service runs
as a child process (``devteam-runner serve``, ``MAX_PARALLEL_JOBS`` 5 unless set) and is
driven over HTTP: ``PUT /customers/{id}`` (``push: true``), ``POST /customers/{id}/run`` for
every customer at once, then ``GET /customers`` until every run is DONE or FAILED.

VERIFY is limited to ``doc.updated`` through each customer's ``defaultCriteria``, so the
figures measure the runner (SELECT, PREP, IMPLEMENT, VERIFY, COMPLETE with merge and push,
state, events) rather than pytest and mypy; the real gates are timed by bench/verify.py.
RSS comes from /proc/<pid>/status: ``VmHWM`` is the peak over the service's life (a fresh
service per N).

Run: ``.venv/bin/python bench/pipeline.py [--sizes 1,10,50]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import http_client, memory_kib, served_process, task_list
from tests.helpers.gitrepo import make_remote

TASKS = 5
DEADLINE_S = 200.0
CRITERIA = {"doc.updated": "task_outcomes.md"}
TOOL = """set -e
printf 'round %s\\n' "$DEVTEAM_TASK_ID" >> src/rounds.txt
printf -- '- %s: changed src/rounds.txt\\n' "$DEVTEAM_TASK_ID" >> docs/DevTeam/task_outcomes.md
echo "edited src/rounds.txt for $DEVTEAM_TASK_ID"
"""


def make_remotes(root: Path, count: int, tasks: int = TASKS) -> list[Path]:
    """Create ``count`` bare remotes, each with a list of ``tasks`` tasks that :data:`TOOL` does."""
    files = {
        "README.md": "# bench\n",
        "src/rounds.txt": "rounds\n",
        "docs/DevTeam/tasks_list.md": task_list(tasks, "src/rounds.txt"),
        "docs/DevTeam/task_outcomes.md": "# Task outcomes\n",
    }
    return [make_remote(root / f"repo{i}.git", files) for i in range(count)]


async def _run_all(url: str, remotes: list[Path], pid: int) -> tuple[float, dict[str, int], int]:
    """Register and run every customer; return (seconds, status counts, max sampled RSS)."""
    async with http_client(url) as client:
        for i, remote in enumerate(remotes):
            body = {"repoUrl": str(remote), "tool": "command", "push": True,
                    "defaultCriteria": CRITERIA}  # fmt: skip
            response = await client.put(f"/customers/c{i}", json=body)
            response.raise_for_status()
        started = time.perf_counter()
        for i in range(len(remotes)):
            response = await client.post(f"/customers/c{i}/run", json={})
            if response.status_code != 202:
                raise RuntimeError(f"run c{i}: {response.status_code} {response.text}")
        peak = 0
        with trio.fail_after(DEADLINE_S):
            while True:
                peak = max(peak, memory_kib(pid)["VmRSS"])
                customers = (await client.get("/customers")).json()["customers"]
                statuses = [c["state"]["status"] for c in customers]
                if all(s in {"DONE", "FAILED", "STOPPED"} for s in statuses):
                    break
                await trio.sleep(0.2)
        elapsed = time.perf_counter() - started
        failed = [c for c in customers if c["state"]["status"] != "DONE"]
        for customer in failed[:3]:
            print(f"  {customer['customerId']}: {customer['state'].get('error')}")
    counts = {s: statuses.count(s) for s in set(statuses)}
    return elapsed, counts, peak


def measure(size: int, tool: Path) -> str:
    """Run ``size`` customers on a fresh service; return the table row."""
    with tempfile.TemporaryDirectory() as tmp:
        remotes = make_remotes(Path(tmp), size)
        env = {"TOOL_COMMAND": f"sh {tool}", "LOG_LEVEL": "warning"}
        with served_process(env) as (url, process):
            idle = memory_kib(process.pid)["VmRSS"]
            elapsed, counts, sampled = trio.run(_run_all, url, remotes, process.pid)
            memory = memory_kib(process.pid)
    done = counts.get("DONE", 0) * TASKS
    rate = done / elapsed * 60
    status = ",".join(f"{k}={v}" for k, v in sorted(counts.items()))
    rss, peak = max(sampled, memory["VmRSS"]) / 1024, memory["VmHWM"] / 1024
    return (f"{size:9d} {done:6d} {elapsed:8.1f} {rate:10.0f} {idle / 1024:9.1f} {rss:8.1f} "
            f"{peak:9.1f}   {status}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,50", help="customer counts, comma-separated")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tool = Path(tmp) / "agent.sh"
        tool.write_text(TOOL)
        print(f"{TASKS} tasks per customer; command tool = a shell script; VERIFY criteria "
              f"limited to {CRITERIA} (measures the runner, not the gates); "
              f"MAX_PARALLEL_JOBS={os.environ.get('MAX_PARALLEL_JOBS', '5')}; "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        print("customers  tasks  seconds  tasks/min  idle MiB  RSS MiB  peak MiB   statuses")
        for size in sizes:
            print(measure(size, tool), flush=True)
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
