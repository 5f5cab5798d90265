"""Tasks per minute for 1, 2 and 3 instances of the service on one PostgreSQL database.

A throwaway PostgreSQL server (the tests' helper, ``fsync`` on) gets a fresh database per
instance count. N ``devteam-runner serve`` processes share it (``DATABASE_URL``), each with
its own workspace, its own ``DEVTEAM_RUNNER_BASE_URL`` and ``MAX_PARALLEL_JOBS=2``. The
coding tool is bench/pipeline.py's shell script behind a 1 s sleep, and VERIFY checks only
``doc.updated``, so a task costs little CPU and the 1 s in a job slot dominates: the job
limit, not the machine's cores, is what more instances should multiply (issue 17's goal:
3 instances >= 2.5x one).

Customer ``c<i>`` is registered and started (``PUT``, ``POST /customers/{id}/run``) on
instance ``i mod N``; the states are polled from the database (so that polling costs the
instances nothing) until every run is DONE, FAILED or STOPPED.
The time is the span from the first run's ``startedAt`` to the last run's ``finishedAt``
(the stored runs). CPU is the instances' own and their reaped children's (git, tool),
from /proc. The mean seconds per stage come from the stored runs too; IMPLEMENT's include
the wait for a job slot. Then the store's event append rates, SQLite and PostgreSQL side by
side (bench/store.py, on a fresh database of the same server).

Each instance claims the customers it is asked to run (their leases); polling a customer on
another instance would be answered from the database all the same.

24 customers (8 per instance at 3 instances) keep each instance's two slots busy: with fewer,
the slots stand idle while every customer of an instance is between two jobs (merging,
selecting, preparing), and the figure measures that rather than the job limit.

Run: ``.venv/bin/python bench/cluster.py [--instances 1,2,3] [--customers 24] [--tasks 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import AsyncExitStack, ExitStack
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import psycopg
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import store as store_bench
from bench._server import cpu_seconds, http_client, served_process
from bench.pipeline import CRITERIA, TOOL, make_remotes
from tests.helpers.postgres import find_bin_dir, throwaway_postgres

if TYPE_CHECKING:
    import httpx

JOBS_PER_INSTANCE = 2
TOOL_SLEEP_S = 1
DEADLINE_S = 300.0
POLL_S = 0.5  # the time comes from the stored runs; the polling reads the database
FINAL = frozenset({"DONE", "FAILED", "STOPPED"})


@attrs.frozen
class Outcome:
    """What one instance count achieved."""

    instances: int
    tasks_done: int
    seconds: float
    cpu_s: float
    statuses: dict[str, int]
    stage_means: dict[str, float]

    @property
    def per_minute(self) -> float:
        """Completed tasks per minute."""
        return self.tasks_done / self.seconds * 60 if self.seconds else 0.0


def _states(database_url: str) -> dict[str, dict[str, Any]]:
    """Every customer's saved state, read from the database (one query: the polling costs
    the instances nothing, so their CPU is the runs')."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT customer_id, state FROM customer_state").fetchall()
    return {customer_id: json.loads(state) for customer_id, state in rows}


async def _wait_all_final(database_url: str, customers: list[str]) -> dict[str, dict[str, Any]]:
    """Poll the customers' states until all are at rest; return them."""
    with trio.fail_after(DEADLINE_S):
        while True:
            states = await trio.to_thread.run_sync(_states, database_url)
            if all(states.get(c, {}).get("status") in FINAL for c in customers):
                return {c: states[c] for c in customers}
            await trio.sleep(POLL_S)


async def _last_runs(clients: dict[str, httpx.AsyncClient]) -> list[dict[str, Any]]:
    """Each customer's latest run with its stages (read from the store)."""
    runs = []
    for customer_id, client in clients.items():
        response = await client.get(f"/customers/{customer_id}/runs", params={"limit": 1})
        response.raise_for_status()
        runs += response.json()["runs"]
    return runs


def _span_s(runs: list[dict[str, Any]]) -> float:
    """Seconds from the first run's start to the last run's finish."""
    starts = [datetime.fromisoformat(run["startedAt"]) for run in runs]
    ends = [datetime.fromisoformat(run["finishedAt"]) for run in runs]
    return (max(ends) - min(starts)).total_seconds()


def _stage_means(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds of each stage over every task of ``runs``, in pipeline order."""
    seconds: dict[str, list[float]] = {}
    for run in runs:
        for task in run["tasks"]:
            for stage in task["stages"]:
                seconds.setdefault(stage["stage"], []).append(stage["durationS"])
    return {name: sum(values) / len(values) for name, values in seconds.items()}


async def _run_all(
    urls: list[str], remotes: list[Path], database_url: str
) -> tuple[list[Any], dict[str, int]]:
    """Register and run customer ``c<i>`` on instance ``i mod N``; return (runs, statuses)."""
    async with AsyncExitStack() as stack:
        by_url = {url: await stack.enter_async_context(http_client(url)) for url in urls}
        clients = {f"c{i}": by_url[urls[i % len(urls)]] for i in range(len(remotes))}
        for (customer_id, client), remote in zip(clients.items(), remotes, strict=True):
            body = {"repoUrl": str(remote), "tool": "command", "push": True,
                    "defaultCriteria": CRITERIA}  # fmt: skip
            (await client.put(f"/customers/{customer_id}", json=body)).raise_for_status()
        for customer_id, client in clients.items():
            response = await client.post(f"/customers/{customer_id}/run", json={})
            if response.status_code != 202:
                raise RuntimeError(f"run {customer_id}: {response.status_code} {response.text}")
        states = await _wait_all_final(database_url, list(clients))
        for customer_id, state in states.items():
            if state["status"] != "DONE":
                print(f"  {customer_id}: {state['status']} {state.get('error')}")
        statuses = [s["status"] for s in states.values()]
        return await _last_runs(clients), {s: statuses.count(s) for s in sorted(set(statuses))}


def measure(
    database_url: str, instances: int, customers: int, tasks: int, tool: Path, root: Path
) -> Outcome:
    """Run ``customers`` x ``tasks`` on ``instances`` fresh services sharing ``database_url``.

    Remotes, workspaces and the services' logs (``instance-<n>.log``) go under ``root``.
    """
    remotes = make_remotes(root, customers, tasks)
    env = {
        "DATABASE_URL": database_url,
        "MAX_PARALLEL_JOBS": str(JOBS_PER_INSTANCE),
        "TOOL_COMMAND": f"sh {tool}",
        "LOG_LEVEL": "warning",
    }
    with ExitStack() as stack:
        served = [
            stack.enter_context(served_process(env, root / f"instance-{n}.log"))
            for n in range(instances)
        ]
        cpu_before = sum(cpu_seconds(process.pid) for _url, process in served)
        urls = [url for url, _process in served]
        runs, statuses = trio.run(_run_all, urls, remotes, database_url)
        cpu = sum(cpu_seconds(process.pid) for _url, process in served) - cpu_before
    done = statuses.get("DONE", 0) * tasks
    return Outcome(instances, done, _span_s(runs), cpu, statuses, _stage_means(runs))


HEADER = "instances  tasks  seconds  tasks/min  vs 1  CPU s/task   statuses   mean s per stage"


def row(outcome: Outcome, one: Outcome | None) -> str:
    """Format ``outcome`` as a table row, its rate relative to ``one`` (1 instance) if known."""
    ratio = f"{outcome.per_minute / one.per_minute:4.2f}x" if one and one.per_minute else "    -"
    cpu = outcome.cpu_s / outcome.tasks_done if outcome.tasks_done else 0.0
    status = ",".join(f"{k}={v}" for k, v in outcome.statuses.items())
    stages = " ".join(f"{name} {mean:.2f}" for name, mean in outcome.stage_means.items())
    return (
        f"{outcome.instances:9d} {outcome.tasks_done:6d} {outcome.seconds:8.1f} "
        f"{outcome.per_minute:10.1f} {ratio:>5} {cpu:11.2f}   {status:9}  {stages}"
    )


def main() -> None:
    """Measure each instance count on one throwaway server, then the store's append rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", default="1,2,3", help="instance counts, comma-separated")
    parser.add_argument("--customers", type=int, default=24)
    parser.add_argument("--tasks", type=int, default=3, help="tasks per customer")
    parser.add_argument("--events", type=int, default=2000, help="events per store scenario")
    args = parser.parse_args()
    counts = [int(n) for n in args.instances.split(",")]
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (make postgres)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, throwaway_postgres(bin_dir, durable=True) as server:
        tool = Path(tmp) / "agent.sh"
        tool.write_text(f"sleep {TOOL_SLEEP_S}\n{TOOL}")
        print(f"{args.customers} customers x {args.tasks} tasks, spread round-robin; "
              f"MAX_PARALLEL_JOBS={JOBS_PER_INSTANCE} per instance; tool = sleep "
              f"{TOOL_SLEEP_S} s + a shell edit; VERIFY criteria {CRITERIA}; "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        print(HEADER)
        one = None
        for count in counts:
            root = Path(tmp) / f"n{count}"
            root.mkdir()
            database = server.create_database()
            outcome = measure(database, count, args.customers, args.tasks, tool, root)
            one = outcome if count == 1 else one
            print(row(outcome, one), flush=True)
        print()
        trio.run(store_bench.main, args.events, server.create_database())
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
