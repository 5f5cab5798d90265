"""The ``devteam-runner`` command: ``serve``, ``tasks check PATH``, ``run REPO``."""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import trio

import runner
from runner.config import Settings
from runner.errors import ConfigError, RunnerError
from runner.logging import configure_logging
from runner.redact import Redactor

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devteam-runner", description=runner.__doc__)
    parser.add_argument("--version", action="version", version=runner.__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the HTTP/WebSocket service")
    serve.add_argument("--host", help="bind address [DEVTEAM_RUNNER_HOST, 127.0.0.1]")
    serve.add_argument("--port", type=int, help="port [DEVTEAM_RUNNER_PORT, 8081]")
    serve.add_argument("--workspace-dir", type=Path, help="[WORKSPACE_DIR, ./var/workspace]")
    serve.add_argument("--log-level", help="[LOG_LEVEL, info]")
    serve.add_argument("--log-format", help="json or console [LOG_FORMAT, json]")
    tasks = sub.add_parser("tasks", help="task list tools")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True)
    check = tasks_sub.add_parser("check", help="parse a task list and report")
    check.add_argument("path", type=Path)
    run = sub.add_parser("run", help="run the pipeline on a repository from the terminal")
    run.add_argument("repo", help="repository URL or local path")
    run.add_argument("--customer", default="cli", help="customer id [cli]")
    run.add_argument("--tool", default=None, help="coding tool: aider or command")
    run.add_argument("--base-branch", default="main")
    run.add_argument("--tasks-file", default="docs/DevTeam/tasks_list.md")
    run.add_argument("--push", action="store_true", help="push the merged base branch")
    run.add_argument("--stop-after-task", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "tasks":
        return _tasks_check(args.path)
    try:
        settings = Settings.from_env(
            os.environ,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workspace_dir=getattr(args, "workspace_dir", None),
            log_level=getattr(args, "log_level", None),
            log_format=getattr(args, "log_format", None),
        )
    except ConfigError as exc:
        print(f"devteam-runner: configuration error: {exc.message}", file=sys.stderr)
        return 2
    redactor = Redactor(settings.secrets)
    configure_logging(settings.log_level, settings.log_format, redactor)
    if args.command == "serve":
        from runner.serve import serve

        try:
            trio.run(serve, settings)
        except RunnerError as exc:  # the store or the workspace cannot be opened at start
            print(f"devteam-runner: cannot start: {redactor(exc.message)}", file=sys.stderr)
            return 1
        return 0
    from runner.terminal import run_in_terminal

    return trio.run(partial(run_in_terminal, settings, args))


def _tasks_check(path: Path) -> int:
    from runner.tasks import check_report

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"devteam-runner: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    report, has_errors = check_report(text)
    print(report)
    return 1 if has_errors else 0
