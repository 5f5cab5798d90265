"""The coding-tool interface: a request in, a redacted run record out.

A :class:`Tool` edits the files of a workspace that is already on the task branch; the runner
then decides success by the diff (aider exits 0 even when nothing applied), so ``run()``
returns a :class:`ToolRun` for any exit status and raises :class:`~runner.errors.ToolError`
only when the tool could not run (``tool_not_found``) or overran ``TOOL_TIMEOUT_S``
(``tool_timeout``; the whole process group is killed first).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

import attrs
import trio

from runner.errors import InvalidInputError, ToolError
from runner.failures import Failure
from runner.process import LineCallback, OutputTail, run_process
from runner.redact import Redactor
from runner.tools.environment import tool_environment

if TYPE_CHECKING:
    from runner.config import Settings

__all__ = [
    "TOOL_NAMES",
    "StopCheck",
    "Tool",
    "ToolRequest",
    "ToolRun",
    "build_prompt",
    "make_tool",
    "run_isolated",
]

TOOL_NAMES = ("aider", "command")
"""The tools :func:`make_tool` knows; ``aider`` is the default."""

StopCheck = Callable[[str, str], str | None]
"""Called with ``(stream, line)``; a non-empty return is the reason to stop the tool now."""


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _check_files(_instance: object, _attribute: object, files: tuple[str, ...]) -> None:
    for name in files:
        path = PurePosixPath(name)
        if not name or path.is_absolute() or ".." in path.parts or name.startswith("-"):
            raise InvalidInputError(f"file path {name!r} must stay inside the repo", field="files")


@attrs.frozen
class ToolRequest:
    """What to implement and where: the workspace root is already on the task branch."""

    task_id: str
    title: str
    description: str
    files: tuple[str, ...] = attrs.field(converter=_str_tuple, validator=_check_files)
    requirements: tuple[str, ...] = attrs.field(converter=_str_tuple)
    repo: Path
    customer_id: str
    repair: str | None = None
    read_only: tuple[str, ...] = ()
    done_before: tuple[str, ...] = ()
    """One line per dependency: what it was and, when the runner did it, the files it changed."""


@attrs.frozen
class ToolRun:
    """One finished tool run; outputs and argv are redacted, outputs capped (tail + marker).

    ``failure``: what the tool's output says went wrong with the model (a ``tool`` row of
    :data:`runner.failures.RULES`), if the adapter can tell; the run may still have changed
    files (a retried call that then succeeded), so the caller decides by the diff first.
    """

    tool: str
    returncode: int
    stdout: str
    stderr: str
    duration: float
    tokens: Mapping[str, int] | None = None
    cost: float | None = None
    argv: tuple[str, ...] = ()
    failure: Failure | None = None


class Tool(Protocol):
    """A coding agent that edits a workspace in place."""

    @property
    def name(self) -> str:
        """The tool's name as requests spell it (``aider``, ``command``)."""
        ...

    async def run(self, request: ToolRequest, *, on_line: LineCallback | None = None) -> ToolRun:
        """Run the tool on ``request.repo``; ``on_line`` gets each output line as printed.

        The lines are not redacted here: their one consumer, the customer's journal,
        redacts every line it publishes (once per line, not once per layer).

        Raises:
            ToolError: ``tool_not_found`` or ``tool_timeout``.
        """
        ...


def build_prompt(request: ToolRequest) -> str:
    """Return the instruction for the tool: description, requirements, files."""
    parts = [f"Task {request.task_id}: {request.title}", "", request.description.strip()]
    if request.requirements:
        parts += ["", "Requirements:", *(f"- {r}" for r in request.requirements)]
    if request.files:
        parts += ["", "Files:", *(f"- {f}" for f in request.files)]
    if request.done_before:
        parts += ["", "Done before this task (its dependencies):", *request.done_before]
    if request.read_only:
        parts += [
            "",
            "Follow the project's conventions in:",
            *(f"- {f}" for f in request.read_only),
        ]
    parts += ["", "Make the change in the repository; keep it minimal and focused on this task."]
    if request.repair:
        parts += ["", request.repair.strip()]
    return "\n".join(parts)


def _resolve_program(program: str, path: str) -> str:
    found = shutil.which(program, path=path) if os.sep not in program else program
    if found is None or not os.access(found, os.X_OK) or os.path.isdir(found):
        raise ToolError(
            f"tool program not found or not executable: {program}", code="tool_not_found"
        )
    return found


@attrs.frozen
class _Capture:
    """Per-run line handling: pass each line on, watch for a stop reason."""

    on_line: LineCallback | None
    stop_when: StopCheck | None
    scope: trio.CancelScope
    reasons: list[str] = attrs.field(factory=list)

    def __call__(self, stream: str, line: str) -> None:
        if self.on_line is not None:
            self.on_line(stream, line)
        if self.stop_when is not None and not self.reasons:
            reason = self.stop_when(stream, line)
            if reason:
                self.reasons.append(reason)
                self.scope.cancel()


async def run_isolated(
    name: str,
    argv: Sequence[str],
    settings: Settings,
    *,
    cwd: Path,
    home: Path,
    extra_env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
    stop_when: StopCheck | None = None,
) -> ToolRun:
    """Run a tool process isolated (allowlisted env, rlimits, own group) and record it.

    ``stop_when`` may end the run early (its process group is killed); the run is then
    returned with ``returncode = -SIGTERM`` and the reason appended to ``stderr``.

    Raises:
        ToolError: ``tool_not_found`` (program missing) or ``tool_timeout`` (overran
            ``settings.tool_timeout_s``; nothing it started is left running).
    """
    env = tool_environment(settings, home=home, extra=extra_env)
    cmd = [_resolve_program(argv[0], env["PATH"]), *argv[1:]]
    redactor = Redactor(settings.secrets)
    tails = (OutputTail(settings.output_cap_bytes), OutputTail(settings.output_cap_bytes))
    started = time.monotonic()
    returncode, duration = -signal.SIGTERM, 0.0
    with trio.CancelScope() as stop_scope:
        capture = _Capture(on_line, stop_when, stop_scope)
        try:
            with trio.fail_after(settings.tool_timeout_s):
                result = await run_process(
                    cmd, cwd=cwd, env=env, limits=settings.limits, on_line=capture, output=tails
                )
        except trio.TooSlowError:
            raise ToolError(
                f"{name} exceeded TOOL_TIMEOUT_S ({settings.tool_timeout_s:g} s); killed",
                code="tool_timeout",
                extra={"stdout": redactor(tails[0].text()), "stderr": redactor(tails[1].text())},
            ) from None
        except (FileNotFoundError, PermissionError) as exc:
            raise ToolError(f"cannot start {name}: {exc}", code="tool_not_found") from exc
        returncode, duration = result.returncode, result.duration
    stderr = tails[1].text()
    if capture.reasons:
        duration = time.monotonic() - started
        stderr += f"\n[devteam-runner: stopped {name}: {capture.reasons[0]}]\n"
    return ToolRun(
        tool=name,
        returncode=returncode,
        stdout=redactor(tails[0].text()),
        stderr=redactor(stderr),
        duration=duration,
        argv=tuple(redactor(a) for a in argv),
    )


def make_tool(name: str, settings: Settings, *, home: Path) -> Tool:
    """Return the tool called ``name`` (``aider`` or ``command``).

    Args:
        name: The tool's name, as a customer or request gives it.
        settings: Paths, model, flags, limits and secrets.
        home: A runner-owned directory, used as ``HOME`` of the tool process.

    Raises:
        InvalidInputError: unknown tool (``field="tool"``), or ``command`` without
            ``TOOL_COMMAND`` configured.
    """
    # Imported here: the adapters import this module for the shared types.
    from runner.tools.aider import AiderTool
    from runner.tools.command import CommandTool

    if name == "aider":
        return AiderTool(settings=settings, home=home)
    if name == "command":
        if not settings.tool_command:
            raise InvalidInputError("tool 'command' needs TOOL_COMMAND to be set", field="tool")
        return CommandTool(settings=settings, home=home)
    raise InvalidInputError(
        f"unknown tool {name!r}; expected one of {', '.join(TOOL_NAMES)}", field="tool"
    )
