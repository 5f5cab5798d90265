"""Run a child process in its own session; a cancel or timeout kills its whole group.

Trio's default cancel delivery TERMs only the leader and warns after 5 s; we TERM the
process group, wait a grace period, then KILL it, and we also reap the group after a normal
exit so that nothing a tool spawned outlives it.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import trio

if TYPE_CHECKING:
    from pathlib import Path

    from runner.config import ResourceLimits

__all__ = ["OutputTail", "ProcessResult", "kill_group", "run_process"]

KILL_GRACE_S = 2.0
_MB = 1024 * 1024

LineCallback = Callable[[str, str], None]
"""Called with ``(stream, line)`` for each complete output line; must not block."""


@attrs.frozen
class ProcessResult:
    """The outcome of a finished child process; output is the capped tail, decoded."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """Whether the process exited with status 0."""
        return self.returncode == 0


@attrs.define
class OutputTail:
    """Keep the last ``cap`` bytes of a stream and remember whether anything was cut."""

    cap: int
    _chunks: bytearray = attrs.field(factory=bytearray)
    truncated: bool = False

    def feed(self, data: bytes | bytearray) -> None:
        """Append ``data``, dropping the oldest bytes beyond the cap."""
        self._chunks += data
        if len(self._chunks) > self.cap:
            del self._chunks[: len(self._chunks) - self.cap]
            self.truncated = True

    def text(self) -> str:
        """Return the tail as text, with a marker when the head was dropped."""
        body = self._chunks.decode("utf-8", errors="replace")
        if self.truncated:
            return f"[... output truncated; last {self.cap // 1024} KiB follow ...]\n{body}"
        return body


def _signal_group(pid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to the process group led by ``pid``; return False if it is gone."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def kill_group(process: trio.Process) -> None:
    """TERM the process group, wait :data:`KILL_GRACE_S`, then KILL it (trio ``deliver_cancel``)."""
    _signal_group(process.pid, signal.SIGTERM)
    with trio.move_on_after(KILL_GRACE_S):
        await process.wait()
        return
    _signal_group(process.pid, signal.SIGKILL)


def _limit_setter(limits: ResourceLimits | None) -> Callable[[], None] | None:
    if limits is None:
        return None
    pairs = [
        (resource.RLIMIT_AS, limits.address_space_mb * _MB),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * _MB),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_NPROC, limits.processes),
    ]
    wanted = [(which, value) for which, value in pairs if value > 0]

    def apply() -> None:  # runs in the child between fork and exec
        for which, value in wanted:
            _soft, hard = resource.getrlimit(which)
            capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (capped, capped))

    return apply


async def _pump(
    stream: trio.abc.ReceiveStream, tail: OutputTail, name: str, on_line: LineCallback | None
) -> None:
    pending = b""
    async for chunk in stream:
        tail.feed(chunk)
        if on_line is None:
            continue
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            on_line(name, line.decode("utf-8", errors="replace").rstrip("\r"))
        if len(pending) > 64 * 1024:  # a line with no end: report it in pieces
            on_line(name, pending.decode("utf-8", errors="replace"))
            pending = b""
    if on_line is not None and pending:
        on_line(name, pending.decode("utf-8", errors="replace"))


async def run_process(
    cmd: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    limits: ResourceLimits | None = None,
    output_cap: int = 64 * 1024,
    on_line: LineCallback | None = None,
    output: tuple[OutputTail, OutputTail] | None = None,
) -> ProcessResult:
    """Run ``cmd`` to completion in a new session and return its capped output.

    Cancelling the caller kills the whole process group (TERM, grace, KILL). Wrap the call
    in ``trio.fail_after`` for a timeout. A non-zero exit is returned, not raised. Pass
    ``output`` (stdout and stderr tails) to read what the process printed after a cancel.

    Raises:
        FileNotFoundError: the program does not exist.
        PermissionError: the program is not executable.
    """
    out, err = output if output is not None else (OutputTail(output_cap), OutputTail(output_cap))
    started = time.monotonic()
    process = await trio.lowlevel.open_process(
        list(cmd),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_limit_setter(limits),
    )
    try:
        async with trio.open_nursery() as nursery:
            assert process.stdout is not None
            assert process.stderr is not None
            nursery.start_soon(_pump, process.stdout, out, "stdout", on_line)
            nursery.start_soon(_pump, process.stderr, err, "stderr", on_line)
            if stdin is not None:
                assert process.stdin is not None
                async with process.stdin:
                    await process.stdin.send_all(stdin)
            await process.wait()
    except BaseException:
        with trio.CancelScope(shield=True):
            await kill_group(process)
            await process.wait()
        raise
    finally:
        _signal_group(process.pid, signal.SIGKILL)  # leftovers the tool spawned
    return ProcessResult(
        args=tuple(cmd),
        returncode=process.returncode if process.returncode is not None else -1,
        stdout=out.text(),
        stderr=err.text(),
        duration=time.monotonic() - started,
        truncated=out.truncated or err.truncated,
    )
