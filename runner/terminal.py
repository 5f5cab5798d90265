"""``devteam-runner run REPO``: the pipeline from a terminal with a live progress line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.actors import RESTING, StartRun
from runner.app import open_services
from runner.clock import iso_utc, utc_now
from runner.errors import OwnedElsewhere, RunnerError
from runner.git import validate_repo_url
from runner.pipeline import PipelineStages
from runner.store import CustomerRecord

if TYPE_CHECKING:
    import argparse

    from runner.config import Settings

__all__ = ["run_in_terminal"]


def _repo_url(raw: str) -> str:
    path = Path(raw)
    return str(path.resolve()) if path.exists() else raw


def _line(frame: dict[str, Any]) -> str:
    if frame.get("type") == "execution-update":
        task = frame.get("taskId") or "-"
        return f"[{frame.get('progress', 0):5.1f}%] {frame.get('status'):<12} task {task}"
    return f"    {frame.get('level', 'info')}: {frame.get('message', '')}"


async def run_in_terminal(settings: Settings, args: argparse.Namespace) -> int:
    """Register the repo as a customer, run the autopilot, print events until it stops."""
    repo_url = _repo_url(args.repo)
    try:
        validate_repo_url(repo_url, allow_local=True)
    except RunnerError as exc:
        print(f"devteam-runner: {exc.message}", file=sys.stderr)
        return 2
    async with open_services(settings, PipelineStages()) as services:
        now = services.timestamp()
        await services.store.customers.upsert(
            CustomerRecord(
                customer_id=args.customer,
                repo_url=repo_url,
                base_branch=args.base_branch,
                tasks_file=args.tasks_file,
                tool=args.tool or "aider",
                push=args.push,
                settings={},
                created_at=now,
                updated_at=now,
            )
        )
        with services.bus.subscribe([args.customer]) as events:
            try:
                await services.registry.ask(
                    args.customer,
                    lambda reply: StartRun(args.tool, args.stop_after_task, reply),
                )
            except RunnerError as exc:
                print(f"devteam-runner: {exc.message}", file=sys.stderr)
                return 1
            except OwnedElsewhere as exc:  # another instance on the shared database runs it
                where = f" at {exc.url}" if exc.url else ""
                print(f"devteam-runner: {exc}{where}: send the run there", file=sys.stderr)
                return 1
            async for event in events:
                print(_line(dict(event.frame)), flush=True)
                if event.is_update and event.frame.get("status") in RESTING:
                    break
        state = await services.registry.state(args.customer)
    status = state["status"]
    if state.get("error"):
        error = state["error"]
        print(f"{status}: {error['stage']} {error['code']}: {error['message']}", file=sys.stderr)
    else:
        print(f"{status} at {iso_utc(utc_now(), timespec='seconds')}")
    return 0 if status in ("DONE", "PAUSED") else 1
