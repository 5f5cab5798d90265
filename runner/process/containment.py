"""Find and end every process a job started, even the ones that left its process group.

Each child :func:`~runner.process.run.run_process` starts is a *job*: it leads its own
process group and carries ``DEVTEAM_RUNNER_JOB=<instance>:<job>`` in its environment, which
its descendants inherit (Jenkins' process-tree killer uses the same idea). When the job's
main process exits, :func:`end_job` KILLs its group and every process whose
``/proc/<pid>/environ`` carries the job's marker, including ones that escaped the group with
``setsid`` or a double fork, and reaps those that were re-parented to us (the service is a
child subreaper, :func:`become_subreaper`). A :class:`ProcessJournal` persists each job's
group and start time so that the next life of the service can end them after a crash
(:func:`end_previous_life`); the start time guards against a reused pid.

Linux only: elsewhere the group is killed and the rest is not found.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import os
import signal
import time
import uuid
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "MARKER_VAR",
    "Containment",
    "JobRecord",
    "ProcessJournal",
    "become_subreaper",
    "contained",
    "current_containment",
    "end_job",
    "end_previous_life",
    "marked_processes",
    "start_time",
]

MARKER_VAR = "DEVTEAM_RUNNER_JOB"
"""The environment variable that tags every process a job started: ``<instance>:<job>``."""

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_END_DEADLINE_S = 5.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@attrs.frozen
class JobRecord:
    """A running job as persisted: its marker, leader pid (= pgid) and start time (ticks)."""

    marker: str
    pid: int
    start_time: int


class ProcessJournal(Protocol):
    """Where jobs are recorded while they run (the store, in the service)."""

    async def started(self, job: JobRecord) -> None:
        """Persist ``job`` (called right after it was spawned, before it is used)."""

    def ended(self, marker: str) -> None:
        """Forget the job tagged ``marker``, whose tree has been ended (must not block)."""


@attrs.frozen
class Containment:
    """The instance id put in every marker and the journal jobs are recorded in."""

    instance: str
    journal: ProcessJournal | None = None
    leaders: set[int] = attrs.field(factory=set, eq=False)
    """The pids of the jobs' main processes not yet waited for (never reaped by a sweep)."""

    def new_marker(self) -> str:
        """Return a fresh ``<instance>:<job>`` marker."""
        return f"{self.instance}:{uuid.uuid4().hex[:16]}"


# A context variable rather than a parameter: run_process is called from git, tools, verify
# and health, and every call made inside the service's nursery inherits the service's value.
_CONTAINMENT: contextvars.ContextVar[Containment | None] = contextvars.ContextVar(
    "devteam_containment", default=None
)


def current_containment() -> Containment:
    """Return the containment set by :func:`contained`, or an unjournaled one for this pid."""
    found = _CONTAINMENT.get()
    return found if found is not None else Containment(instance=f"pid{os.getpid()}")


@contextlib.contextmanager
def contained(containment: Containment) -> Iterator[None]:
    """Tag and journal every process started in this context (and tasks started from it)."""
    token = _CONTAINMENT.set(containment)
    try:
        yield
    finally:
        _CONTAINMENT.reset(token)


def become_subreaper(enable: bool = True) -> bool:
    """Make this process the reaper of its orphaned descendants; False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(enable), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


@attrs.frozen
class _Proc:
    pid: int
    ppid: int
    pgid: int
    state: str
    start_time: int


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _stat(pid: int) -> _Proc | None:
    data = _read(f"/proc/{pid}/stat")
    if data is None:
        return None
    raw = data.decode(errors="replace")
    # the command name (field 2) may hold spaces and parentheses: split after the last ")"
    fields = raw[raw.rfind(")") + 2 :].split()
    return _Proc(pid, int(fields[1]), int(fields[2]), fields[0], int(fields[19]))


def start_time(pid: int) -> int | None:
    """Return the start time of ``pid`` (``/proc/<pid>/stat`` field 22), None if gone."""
    found = _stat(pid)
    return None if found is None else found.start_time


def _marker_of(pid: int) -> str | None:
    raw = _read(f"/proc/{pid}/environ")
    if raw is None:
        return None
    prefix = MARKER_VAR.encode() + b"="
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def marked_processes(prefix: str) -> list[int]:
    """Return the live pids whose marker starts with ``prefix`` (``""``: any marker)."""
    found = []
    for pid in _pids():
        marker = _marker_of(pid)
        if marker is not None and marker.startswith(prefix):
            found.append(pid)
    return found


def _last_pid() -> int | None:
    """The pid the kernel gave last (``/proc/loadavg``, 5th field), None if unknown."""
    raw = _read("/proc/loadavg")
    try:
        return int(raw.split()[-1]) if raw else None
    except ValueError:
        return None


def _candidates(leader: int | None, recent: bool) -> list[int]:
    """The pids a job's descendants can have.

    Pids are handed out in increasing order until they wrap: for a job that started less
    than a second ago (``recent``) and if the counter has not wrapped since (the last pid is
    above the leader's), its descendants are the pids between the leader's and the last one.
    Otherwise every pid.
    """
    pids = _pids()
    last = _last_pid() if recent and leader is not None else None
    if leader is None or last is None or last < leader:
        return pids
    return [pid for pid in pids if leader < pid <= last]


def _alive(pids: list[int], pgid: int | None, prefix: str, since: int) -> list[_Proc]:
    """The live processes among ``pids`` in group ``pgid`` or carrying a ``prefix`` marker."""
    me, found = os.getpid(), []
    for pid in pids:
        proc = _stat(pid)
        if proc is None or pid in (me, pgid) or proc.state in "ZX":
            continue  # the leader (``pgid``) is its owner's to wait for
        if pgid is not None and proc.pgid == pgid:
            found.append(proc)
        elif proc.start_time >= since:  # an older process cannot descend from the job
            marker = _marker_of(pid)
            if marker is not None and marker.startswith(prefix):
                found.append(proc)
    return found


def _is_reaper() -> bool:
    """Whether orphans are re-parented to us (we are a subreaper, or init)."""
    if os.getpid() == 1:
        return True
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        flag = ctypes.c_int(0)
        return bool(libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) == 0) and (
            flag.value != 0
        )
    except (OSError, AttributeError):
        return False


def _has_exited_child() -> bool:
    """Whether a child of ours has exited and waits to be reaped (nothing is reaped)."""
    try:
        return os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return False


def _boot_ticks() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _CLK_TCK)


def _reap_orphans(keep: frozenset[int]) -> None:
    """Reap zombies re-parented to us (only when we are a subreaper or init).

    A descendant that left its job and exited before the job ended is no longer found by
    its marker (a zombie's environment is gone). Reaped are zombie children of ours that
    are not in our process group (so not a child some library spawned and will wait for),
    not in ``keep`` (the jobs' leaders) and older than a second (so a leader spawned while
    ``keep`` was taken is never one of them).
    """
    if not _has_exited_child() or not _is_reaper():
        return
    me, group, before = os.getpid(), os.getpgid(0), _boot_ticks() - _CLK_TCK
    for pid in _pids():
        proc = _stat(pid)
        if (
            proc is not None
            and proc.ppid == me
            and proc.state == "Z"
            and proc.pgid != group
            and pid not in keep
            and proc.start_time < before
        ):
            _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def end_job(
    pgid: int | None, prefix: str, since: int = 0, keep: frozenset[int] = frozenset()
) -> int:
    """KILL the group ``pgid`` and every process whose marker starts with ``prefix``.

    Only processes started at or after ``since`` (clock ticks, the job leader's start time)
    can be the job's descendants; older ones are not read.

    Blocking (scans ``/proc``): call it in a thread. Loops until none is left alive, since
    killing a parent re-parents its children, and reaps the ones re-parented to us. The
    group's leader (pid ``pgid``) is never reaped here: its owner waits for it. Then the
    zombies re-parented to us are reaped (``keep``: the leaders still to be waited for).

    Returns:
        How many processes were killed.
    """
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    recent = since > 0 and _boot_ticks() - since < _CLK_TCK
    me, seen = os.getpid(), set[int]()
    deadline = time.monotonic() + _END_DEADLINE_S
    while time.monotonic() < deadline:
        alive = _alive(_candidates(pgid, recent), pgid, prefix, since)
        for proc in alive:
            seen.add(proc.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
        for pid in seen:
            found = _stat(pid)
            if found is not None and found.ppid == me and found.state in "ZX":
                _reap(pid)
        if not alive:
            break
        time.sleep(0.005)  # a KILLed process exits once the kernel schedules it
    _reap_orphans(keep | ({pgid} if pgid is not None else set()))
    return len(seen)


def end_previous_life(jobs: list[JobRecord], instances: list[str]) -> int:
    """End what an earlier life of the service left running; blocking (use a thread).

    A recorded leader is killed (with its group) only if its start time is the recorded
    one, so a pid the kernel has since given to another process is never touched; then
    every process carrying a marker of one of ``instances`` is killed.

    Returns:
        How many processes were killed.
    """
    killed = 0
    for job in jobs:
        if job.start_time and start_time(job.pid) == job.start_time:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pid, signal.SIGKILL)
                killed += 1
    for instance in instances:
        killed += end_job(None, f"{instance}:")
    return killed
