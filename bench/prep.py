"""Benchmark PREP's git work: the Workspace API against the same git commands run bare.

Builds a bare repository with 1,000 commits (``git fast-import``), then times

* cold: clone + check out the base + create the task branch;
* warm: fetch (one new upstream commit per round) + check out the base + create the branch,
  also with ``repair()`` (what /prep really runs), and a re-prep of an existing branch;

through :class:`runner.git.Workspace` and as plain ``git`` subprocesses, and prints the
medians and the warm ratio (goal: <= 1.3x bare git).

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

from runner.git import GitAuth, Workspace, validate_repo_url  # after sys.path

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

BASE = "main"


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


def build_repo(path: Path, commits: int, files: int = 200) -> None:
    """Create a bare repo with ``commits`` commits on main touching ``files`` files."""
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
            b"\n",
        ]
    git("fast-import", "--quiet", cwd=path, stdin=b"".join(chunks))
    git("gc", "--quiet", cwd=path)


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


async def run(rounds: int, commits: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-prep-") as tmp:
        root = Path(tmp)
        bare = root / "origin.git"
        started = time.perf_counter()
        build_repo(bare, commits)
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
            started = time.perf_counter()
            bare_cold(repo.raw, root / "bare" / f"cold{n}", f"task/{n}-cold")
            record("cold bare", time.perf_counter() - started)

        api = Workspace(root / "api" / "warm", auth)
        full = Workspace(root / "api" / "warm-repair", auth)
        bare_dir = root / "bare" / "warm"
        await api.ensure(repo)
        await full.ensure(repo)
        git("clone", "--quiet", "--", repo.raw, str(bare_dir))
        for n in range(rounds):
            add_upstream_commit(bare, root / "upstream", n)
            branch = f"task/{n}-warm"

            async def api_warm(branch: str = branch) -> None:
                await api.ensure(repo)
                await api.checkout_base(BASE)
                await api.create_or_reset_branch(branch, BASE)

            async def api_prep(branch: str = branch) -> None:
                await full.ensure(repo)
                await full.repair()
                await full.checkout_base(BASE)
                await full.create_or_reset_branch(branch, BASE)

            async def bare_round(branch: str = branch) -> None:
                bare_warm(bare_dir, branch)

            variants = [
                ("warm api", api_warm),
                ("warm bare", bare_round),
                ("warm api+repair", api_prep),
            ]
            for name, fn in variants[n % 3 :] + variants[: n % 3]:  # rotate the order
                record(name, await timed(fn))
            record("re-prep api+repair", await timed(api_prep))  # nothing new: branch exists
        report(times)


def report(times: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:>18}: median {value * 1000:8.1f} ms  (n={len(times[name])})")
    cold = medians["cold api"] / medians["cold bare"]
    warm = medians["warm api"] / medians["warm bare"]
    full = medians["warm api+repair"] / medians["warm bare"]
    print(f"cold ratio api/bare: {cold:.2f}x")
    print(f"warm ratio api/bare: {warm:.2f}x (goal <= 1.3x)")
    print(f"warm ratio api+repair/bare: {full:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--commits", type=int, default=1000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trio.run(run, args.rounds, args.commits)


if __name__ == "__main__":
    main()
