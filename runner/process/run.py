"""Run a child process in its own session; when it ends, nothing it started outlives it.

Trio's default cancel delivery TERMs only the leader and warns after 5 s; we TERM the
process group, wait a grace period, then KILL it. The process is a job of
:mod:`runner.process.containment`: tagged with a marker in its environment, journaled while it
runs, and the moment its main process exits the rest of its tree (its group and every
process carrying its marker) is killed, so a background child holding the output pipes
cannot keep the caller waiting.

A job is journaled once it has run :data:`JOURNAL_AFTER_S`. Most git commands end sooner, and
a row written and deleted for each would be most of the store's writes; a crash in that
window leaves a process the next life still finds by its marker.
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

from runner.process.containment import (
    MARKER_VAR,
    Containment,
    JobRecord,
    ProcessJournal,
    current_containment,
    end_job,
    start_time,
)

if TYPE_CHECKING:
    from pathlib import Path

    from runner.config import ResourceLimits

__all__ = ["OutputTail", "ProcessResult", "kill_group", "run_process"]

KILL_GRACE_S = 2.0
JOURNAL_AFTER_S = 0.2
"""A job still running after this long is journaled (see the module's docstring)."""
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
        """Append ``data``, dropping the oldest bytes beyond the cap.

        Up to twice the cap is kept between trims, so that a flood of output costs linear
        time on the event loop rather than one move of the whole tail per chunk.
        """
        self._chunks += data
        if len(self._chunks) > self.cap:
            self.truncated = True
            if len(self._chunks) > 2 * self.cap:
                del self._chunks[: len(self._chunks) - self.cap]

    def text(self) -> str:
        """Return the tail as text, with a marker when the head was dropped."""
        body = self._chunks[-self.cap :].decode("utf-8", errors="replace")
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
    containment = current_containment()
    marker = containment.new_marker()
    started = time.monotonic()
    process = await trio.lowlevel.open_process(
        list(cmd),
        cwd=cwd,
        env={**(os.environ if env is None else env), MARKER_VAR: marker},
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_limit_setter(limits),
    )
    job = JobRecord(marker, process.pid, start_time(process.pid) or 0)
    journal = containment.journal
    journaling = _Journaling(journal, job) if journal is not None else None
    containment.leaders.add(process.pid)
    try:
        await _communicate(process, stdin, (out, err), on_line, job, containment, journaling)
    except BaseException:
        with trio.CancelScope(shield=True):
            await kill_group(process)
            await process.wait()
            await _end(job, containment)
        raise
    finally:
        containment.leaders.discard(process.pid)  # reaped by process.wait()
        with trio.CancelScope(shield=True):
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    await stream.aclose()
            if journaling is not None and journaling.written:
                journaling.journal.ended(marker)
    return ProcessResult(
        args=tuple(cmd),
        returncode=process.returncode if process.returncode is not None else -1,
        stdout=out.text(),
        stderr=err.text(),
        duration=time.monotonic() - started,
        truncated=out.truncated or err.truncated,
    )


async def _end(job: JobRecord, containment: Containment) -> None:
    """End the rest of ``job``'s tree (in a thread: it scans ``/proc``)."""
    keep = frozenset(containment.leaders)
    await trio.to_thread.run_sync(end_job, job.pid, job.marker, job.start_time, keep)


@attrs.define
class _Journaling:
    """Journals a job once it has run :data:`JOURNAL_AFTER_S`, unless it exited before."""

    journal: ProcessJournal
    job: JobRecord
    exited: trio.Event = attrs.Factory(trio.Event)
    written: bool = False
    """The row was (or was being) written: it is to be forgotten when the job ends."""

    async def run(self) -> None:
        with trio.move_on_after(JOURNAL_AFTER_S):
            await self.exited.wait()
            return
        self.written = True
        await self.journal.started(self.job)


async def _communicate(
    process: trio.Process,
    stdin: bytes | None,
    output: tuple[OutputTail, OutputTail],
    on_line: LineCallback | None,
    job: JobRecord,
    containment: Containment,
    journaling: _Journaling | None,
) -> None:
    """Feed stdin, read both pipes until the main process exits and its tree is ended."""
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = output
    async with trio.open_nursery() as nursery:
        if journaling is not None:
            # Journaled while it runs (the write's fsync overlaps the process); the result
            # is returned only once a row begun is written.
            nursery.start_soon(journaling.run)
        nursery.start_soon(_pump, process.stdout, out, "stdout", on_line)
        nursery.start_soon(_pump, process.stderr, err, "stderr", on_line)
        if stdin is not None:
            assert process.stdin is not None
            async with process.stdin:
                await process.stdin.send_all(stdin)
        await process.wait()
        if journaling is not None:
            journaling.exited.set()
        # The main process is done: end the rest of its tree, which closes the pipes' other
        # ends; read what is left, but never wait on a pipe something unkillable still holds.
        await _end(job, containment)
        nursery.cancel_scope.deadline = trio.current_time() + KILL_GRACE_S
