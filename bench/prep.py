"""Benchmark PREP: ``POST /prep`` and the Workspace API against the same git commands run bare.

Builds a bare repository with 1,000 commits (``git fast-import``) and a task list, then times

* cold: clone + check out the base + create the task branch;
* warm: fetch (one new upstream commit per round) + check out the base + create the branch,
  also as /prep runs it (the last stage's clean mark, ``repair_unless_clean``, the base moved
  by the fetch and the task list read from git instead of a checkout of the base), and a
  re-prep of an existing branch;

end to end through HTTP (``POST /prep`` on the service running as a child process, a new
customer per cold round, one customer and a new task per warm round), through
:class:`runner.git.Workspace` directly, and as plain ``git`` subprocesses; prints the medians
and the ratios (goal: warm /prep <= 1.3x bare git).

Run: ``.venv/bin/python bench/prep.py [--rounds N] [--commits N]``
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import http_client, post, served, task_list  # after sys.path
from runner.git import GitAuth, Workspace, validate_repo_url

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

BASE = "main"
TASKS_FILE = "docs/DevTeam/tasks_list.md"


def bare_env() -> dict[str, str]:
    """The environment a shell user would give git, minus personal config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@localhost",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@localhost",
    )
    return env


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> None:
    """Run git, raising on failure."""
    subprocess.run(
        ["git", *args], cwd=cwd, env=bare_env(), input=stdin, check=True, capture_output=True
    )


def build_repo(path: Path, commits: int, tasks: str, files: int = 200) -> None:
    """Create a bare repo with ``commits`` commits on main touching ``files`` files.

    The first commit also adds the task list ``tasks``.
    """
    git("init", "--quiet", "--bare", "--initial-branch", BASE, str(path))
    chunks: list[bytes] = []
    for n in range(1, commits + 1):
        body = f"file {n % files}\n" + f"line {n}\n" * 20
        data = body.encode()
        message = f"commit {n}\n".encode()
        chunks += [
            f"commit refs/heads/{BASE}\nmark :{n}\n".encode(),
            f"committer bench <bench@localhost> {1_700_000_000 + n} +0000\n".encode(),
            f"data {len(message)}\n".encode() + message,
            f"from :{n - 1}\n".encode() if n > 1 else b"",
            f"M 100644 inline src/f{n % files:03d}.txt\ndata {len(data)}\n".encode() + data,
            _inline(TASKS_FILE, tasks.encode()) if n == 1 else b"",
            b"\n",
        ]
    git("fast-import", "--quiet", cwd=path, stdin=b"".join(chunks))
    git("gc", "--quiet", cwd=path)


def _inline(path: str, data: bytes) -> bytes:
    return f"\nM 100644 inline {path}\ndata {len(data)}\n".encode() + data


def add_upstream_commit(bare: Path, work: Path, n: int) -> None:
    """Push one new commit to main from a helper clone (outside the timed region)."""
    if not work.exists():
        git("clone", "--quiet", str(bare), str(work))
    (work / "upstream.txt").write_text(f"round {n}\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", f"upstream {n}", cwd=work)
    git("push", "-q", "origin", BASE, cwd=work)


def bare_cold(url: str, dest: Path, branch: str) -> None:
    git("clone", "--quiet", "--", url, str(dest))
    git("checkout", "-q", "-B", BASE, f"origin/{BASE}", cwd=dest)
    git("checkout", "-q", "-b", branch, BASE, cwd=dest)


def bare_warm(dest: Path, branch: str) -> None:
    git("fetch", "--quiet", "--prune", "origin", cwd=dest)
    git("checkout", "-q", "-B", BASE, f"origin/{BASE}", cwd=dest)
    git("checkout", "-q", "-b", branch, BASE, cwd=dest)


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


def _prep_call(
    client: httpx.AsyncClient, repo_url: str, task: int, customer: str
) -> Callable[[], Awaitable[object]]:
    body = {"repoUrl": repo_url, "taskId": f"1.1.{task}", "customerId": customer}
    return lambda: post(client, "/prep", body)


async def run(rounds: int, commits: int, root: Path, client: httpx.AsyncClient) -> None:
    """Build the repository, time every variant ``rounds`` times and print the report."""
    bare = root / "origin.git"
    started = time.perf_counter()
    build_repo(bare, commits, task_list(rounds + 2, "src/f000.txt"))
    print(f"built {commits}-commit repo in {time.perf_counter() - started:.2f} s")
    auth = GitAuth.create(root / "state", allow_local=True)
    repo = validate_repo_url(str(bare), allow_local=True)
    times: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    for n in range(rounds):
        ws = Workspace(root / "api" / f"cold{n}", auth)

        async def api_cold(ws: Workspace = ws, n: int = n) -> None:
            await ws.ensure(repo)
            await ws.checkout_base(BASE)
            await ws.create_or_reset_branch(f"task/{n}-cold", BASE)

        record("cold api", await timed(api_cold))
        record("cold http", await timed(_prep_call(client, repo.raw, 1, f"cold{n}")))
        started = time.perf_counter()
        bare_cold(repo.raw, root / "bare" / f"cold{n}", f"task/{n}-cold")
        record("cold bare", time.perf_counter() - started)

    api = Workspace(root / "api" / "warm", auth)
    full = Workspace(root / "api" / "warm-repair", auth)
    bare_dir = root / "bare" / "warm"
    await api.ensure(repo)
    await full.ensure(repo)
    await post(client, "/prep", {"repoUrl": repo.raw, "taskId": "1.1.1", "customerId": "warm"})
    git("clone", "--quiet", "--", repo.raw, str(bare_dir))
    for n in range(rounds):
        add_upstream_commit(bare, root / "upstream", n)
        branch = f"task/{n}-warm"

        async def api_warm(branch: str = branch) -> None:
            await api.ensure(repo, base=BASE)
            await api.checkout_base(BASE)
            await api.create_or_reset_branch(branch, BASE)

        async def api_prep(branch: str = branch) -> None:
            full.take_clean_mark()  # what /prep runs after a stage that ended well
            await full.ensure(repo, base=BASE)
            await full.repair_unless_clean()
            if full.fetched_base:  # the fetch moved the base: read the list, no checkout
                await full.read_file(f"refs/heads/{BASE}", TASKS_FILE)
            else:
                await full.checkout_base(BASE)
            await full.create_or_reset_branch(branch, BASE)
            full.mark_clean()

        async def bare_round(branch: str = branch) -> None:
            bare_warm(bare_dir, branch)

        http_warm = _prep_call(client, repo.raw, n + 2, "warm")
        variants = [
            ("warm api", api_warm),
            ("warm bare", bare_round),
            ("warm api as /prep", api_prep),
            ("warm http", http_warm),
        ]
        shift = n % len(variants)
        for name, fn in variants[shift:] + variants[:shift]:  # rotate the order
            record(name, await timed(fn))
        record("re-prep api", await timed(api_prep))  # nothing new: the branch exists
        record("re-prep http", await timed(http_warm))
    report(times)


def report(times: dict[str, list[float]]) -> None:
    """Print the medians and the ratios against bare git."""
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'variant':>18}  {'median ms':>9}  {'p90 ms':>8}  {'n':>3}")
    for name, values in sorted(times.items()):
        p90 = sorted(values)[round(0.9 * (len(values) - 1))]
        print(f"{name:>18}  {medians[name] * 1000:9.1f}  {p90 * 1000:8.1f}  {len(values):3d}")
    print()
    print(f"{'ratio (medians)':>28}  {'x bare git':>10}")
    for label, name, bare_name in (
        ("cold /prep (HTTP)", "cold http", "cold bare"),
        ("cold Workspace API", "cold api", "cold bare"),
        ("warm /prep (HTTP)", "warm http", "warm bare"),
        ("warm Workspace API", "warm api", "warm bare"),
        ("warm API as /prep", "warm api as /prep", "warm bare"),
    ):
        print(f"{label:>28}  {medians[name] / medians[bare_name]:9.2f}x")
    print("goal: warm /prep (HTTP) <= 1.3x bare git")


def main() -> None:
    """Start the service, run the benchmark, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--commits", type=int, default=1000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    env = {"ALLOW_LOCAL_REPOS": "true", "GIT_TIMEOUT_S": "120"}

    async def bench(root: Path, url: str) -> None:
        async with http_client(url) as client:
            with trio.fail_after(900):
                await run(args.rounds, args.commits, root, client)

    with tempfile.TemporaryDirectory(prefix="bench-prep-") as tmp, served(env) as url:
        trio.run(bench, Path(tmp), url)


if __name__ == "__main__":
    main()
