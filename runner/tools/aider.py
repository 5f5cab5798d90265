"""Run the aider CLI non-interactively, offline-safe, on a workspace the runner owns.

Checked against aider-chat 0.86.2. Aider reads ``.aider.conf.yml``, ``.env``,
``.aider.model.settings.yml`` and ``.aider.model.metadata.json`` from HOME, the git root and
the working directory *in addition to* any ``--config``/``--env-file``/``--model-*-file``
given on the command line (``aider/main.py``: ``generate_search_path_list`` and configargparse's
``default_config_files`` always include them). Flags therefore cannot keep a target repo's
files from taking effect: a repo's ``.env`` could replace ``OPENAI_API_KEY``/``*_API_BASE`` and
its ``.aider.conf.yml`` could add ``read:`` files that are sent to the model. So the adapter
moves those four files out of the workspace root for the run and puts them back afterwards
(byte for byte, also on cancel), HOME is a runner-owned directory, and the runner's own
(empty) config, env, model-settings and model-metadata files are passed explicitly.

Aider retries "retryable" LLM errors (e.g. a reply that is not JSON) with backoff for about a
minute and no flag shortens that; the adapter counts its ``Retrying in …`` lines and stops the
run after ``TOOL_RETRY_LIMIT`` of them. Aider exits 0 after a model failure too (a bad key, a
rate limit it gave up on); the adapter reads its output with :func:`runner.failures.classify`
and reports what it found as :attr:`ToolRun.failure <runner.tools.base.ToolRun.failure>`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import structlog
import trio

from runner.config import Settings
from runner.failures import classify
from runner.tools.base import ToolRequest, ToolRun, build_prompt, run_isolated

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from runner.process import LineCallback

__all__ = ["AIDER_FLAGS", "HIDDEN_REPO_FILES", "AiderTool", "parse_usage"]

log = structlog.get_logger(__name__)

AIDER_FLAGS = (
    "--yes-always",
    "--no-auto-commits",
    "--no-dirty-commits",
    "--no-check-update",
    "--no-analytics",
    "--no-show-release-notes",
    "--no-show-model-warnings",
    "--no-pretty",
    "--no-stream",
    "--no-fancy-input",
    "--no-gitignore",
    "--map-tokens",
    "0",
    "--chat-history-file",
    os.devnull,
    "--input-history-file",
    os.devnull,
    "--no-restore-chat-history",
    "--no-auto-lint",
    "--no-auto-test",
    "--no-detect-urls",
    "--no-suggest-shell-commands",
)
"""Flags that make aider non-interactive and offline-safe (no updates, analytics, history)."""

HIDDEN_REPO_FILES = (
    ".aider.conf.yml",
    ".env",
    ".aider.model.settings.yml",
    ".aider.model.metadata.json",
)
"""Files aider would obey from the repo root; moved aside for the duration of a run."""

_OWN_FILES = {
    "aider.conf.yml": "{}\n",  # configargparse needs a mapping, not an empty document
    "aider.env": "",
    "aider.model.settings.yml": "",
    "aider.model.metadata.json": "",
}
_RETRYING = re.compile(r"^Retrying in [\d.]+ seconds")
_TOKENS = re.compile(r"Tokens: (?P<sent>[\d.]+k?) sent,.*?(?P<received>[\d.]+k?) received\.")
_COST = re.compile(r"Cost: \$(?P<message>[\d.]+) message, \$(?P<session>[\d.]+) session\.")


def _count(text: str) -> int:
    """Parse aider's token format (``120``, ``1.2k``, ``12k``)."""
    if text.endswith("k"):
        return round(float(text[:-1]) * 1000)
    return int(float(text))


def parse_usage(output: str) -> tuple[dict[str, int] | None, float | None]:
    """Return ``({"sent": n, "received": m}, cost)`` from aider's usage lines, if any.

    Aider prints one ``Tokens: … sent, … received. Cost: $… message, $… session.`` line per
    LLM call; tokens are summed, the cost is the last session total.
    """
    tokens: dict[str, int] | None = None
    for match in _TOKENS.finditer(output):
        tokens = tokens or {"sent": 0, "received": 0}
        tokens["sent"] += _count(match["sent"])
        tokens["received"] += _count(match["received"])
    costs = _COST.findall(output)
    cost = float(costs[-1][1]) if costs else None
    return tokens, cost


def _prepare_own_files(home: Path) -> dict[str, Path]:
    """Write the runner's (empty) aider config files under ``home``; return their paths."""
    folder = home / ".devteam-runner"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, content in _OWN_FILES.items():
        path = folder / name
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
        paths[name] = path
    return paths


def _hide(repo: Path, stash: Path) -> list[str]:
    """Move the repo-root aider files into ``stash``; return the names moved."""
    moved = []
    for name in HIDDEN_REPO_FILES:
        source = repo / name
        if source.exists() or source.is_symlink():
            shutil.move(source, stash / name)
            moved.append(name)
    return moved


def _restore(repo: Path, stash: Path, names: list[str]) -> None:
    """Put the hidden files back; a file the tool created in their place is replaced."""
    for name in names:
        target = repo / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            log.warning("aider_replaced_hidden_file", file=name)
            target.unlink()
        shutil.move(stash / name, target)
    shutil.rmtree(stash, ignore_errors=True)


@attrs.frozen
class AiderTool:
    """The aider CLI as a :class:`~runner.tools.base.Tool`."""

    settings: Settings
    home: Path

    @property
    def name(self) -> str:
        """Always ``"aider"``."""
        return "aider"

    def argv(self, request: ToolRequest, own: Mapping[str, Path]) -> list[str]:
        """Return aider's command line for ``request`` (``own``: the runner's config files)."""
        settings = self.settings
        argv = [settings.aider_path]
        if settings.aider_model:
            argv += ["--model", settings.aider_model]
        argv += ["--edit-format", settings.aider_edit_format, *AIDER_FLAGS]
        argv += ["--config", str(own["aider.conf.yml"]), "--env-file", str(own["aider.env"])]
        argv += ["--model-settings-file", str(own["aider.model.settings.yml"])]
        argv += ["--model-metadata-file", str(own["aider.model.metadata.json"])]
        argv += settings.aider_args  # after ours, so an operator's flag wins
        argv.append(f"--message={build_prompt(request)}")
        argv += [f"--file={name}" for name in request.files]
        argv += [f"--read={name}" for name in request.read_only]
        return argv

    def _stop_after_retries(self) -> Callable[[str, str], str | None]:
        limit = self.settings.tool_retry_limit
        seen: list[str] = []

        def check(_stream: str, line: str) -> str | None:
            if _RETRYING.match(line):
                seen.append(line)
                if len(seen) > limit:
                    return f"the LLM call failed {len(seen)} times (TOOL_RETRY_LIMIT={limit})"
            return None

        return check

    async def run(self, request: ToolRequest, *, on_line: LineCallback | None = None) -> ToolRun:
        """Run aider on ``request``; return its redacted run for any exit status.

        A model failure in aider's output (see :mod:`runner.failures`) is the run's ``failure``.

        Raises:
            ToolError: ``tool_not_found`` or ``tool_timeout``.
        """
        own = await trio.to_thread.run_sync(_prepare_own_files, self.home)
        argv = self.argv(request, own)
        stash = Path(tempfile.mkdtemp(prefix="hidden-", dir=own["aider.env"].parent))
        hidden = _hide(request.repo, stash)
        try:
            run = await run_isolated(
                self.name,
                argv,
                self.settings,
                cwd=request.repo,
                home=self.home,
                extra_env={"BROWSER": "true", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
                on_line=on_line,
                stop_when=self._stop_after_retries(),
            )
        finally:
            _restore(request.repo, stash, hidden)  # sync on purpose: must run when cancelled
        tokens, cost = parse_usage(run.stdout)
        failure = classify("tool", f"{run.stdout}\n{run.stderr}")
        return attrs.evolve(run, tokens=tokens, cost=cost, failure=failure)
