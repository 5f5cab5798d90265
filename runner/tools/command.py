"""Run a configured command line (``TOOL_COMMAND``) as the coding tool, e.g. another agent.

The command gets the task through the environment: ``DEVTEAM_TASK_PROMPT`` (the same prompt
aider gets), ``DEVTEAM_TASK_PROMPT_FILE`` (that prompt in a runner-owned file, for long
prompts), ``DEVTEAM_TASK_ID``, ``DEVTEAM_TASK_TITLE``, ``DEVTEAM_TASK_FILES`` (one
repo-relative path per line) and ``DEVTEAM_REPO`` (the workspace root, also its cwd). It runs
with the same isolation as aider: allowlisted environment, runner-owned HOME, rlimits, own
process group, stdin from /dev/null.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import trio

from runner.config import Settings
from runner.tools.base import ToolRequest, ToolRun, build_prompt, run_isolated

if TYPE_CHECKING:
    from runner.process import LineCallback

__all__ = ["CommandTool"]


def _write_prompt(home: Path, prompt: str) -> Path:
    folder = home / ".devteam-runner"
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="prompt-", suffix=".md", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(prompt)
    return Path(name)


@attrs.frozen
class CommandTool:
    """``Settings.tool_command`` as a :class:`~runner.tools.base.Tool`."""

    settings: Settings
    home: Path

    @property
    def name(self) -> str:
        """Always ``"command"``."""
        return "command"

    async def run(self, request: ToolRequest, *, on_line: LineCallback | None = None) -> ToolRun:
        """Run the configured command on ``request``; return its redacted run.

        Raises:
            ToolError: ``tool_not_found`` or ``tool_timeout``.
        """
        prompt = build_prompt(request)
        prompt_file = await trio.to_thread.run_sync(_write_prompt, self.home, prompt)
        env = {
            "DEVTEAM_TASK_PROMPT": prompt,
            "DEVTEAM_TASK_PROMPT_FILE": str(prompt_file),
            "DEVTEAM_TASK_ID": request.task_id,
            "DEVTEAM_TASK_TITLE": request.title,
            "DEVTEAM_TASK_FILES": "\n".join(request.files),
            "DEVTEAM_REPO": str(request.repo),
        }
        try:
            return await run_isolated(
                self.name,
                self.settings.tool_command,
                self.settings,
                cwd=request.repo,
                home=self.home,
                extra_env=env,
                on_line=on_line,
            )
        finally:
            prompt_file.unlink(missing_ok=True)
