"""Process containment: a job's whole tree ends with its main process, even escaped parts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import pytest
import trio

from runner.config import Settings
from runner.process import (
    MARKER_VAR,
    Containment,
    JobRecord,
    become_subreaper,
    contained,
    end_previous_life,
    marked_processes,
    run_process,
)
from runner.process import run as process_run
from runner.process.containment import start_time
from runner.tools.base import run_isolated
from tests.tools.conftest import wait_gone

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Make the test process a child subreaper, as ``serve`` does, for one test."""
    assert become_subreaper()
    try:
        yield
    finally:
        become_subreaper(enable=False)


async def test_background_child_holding_stdout_does_not_block(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    with trio.fail_after(8):  # the old code waited for EOF until the caller's timeout
        result = await run_process(["sh", "-c", f"(sleep 100000) & echo $! > {pidfile}; echo done"])
    assert result.ok
    assert result.stdout == "done\n"
    assert await wait_gone(int(pidfile.read_text()))


async def test_setsid_grandchild_is_killed_when_the_main_process_exits(tmp_path: Path) -> None:
    pidfile = tmp_path / "setsid.pid"
    script = f"setsid sleep 100000 >/dev/null 2>&1 < /dev/null & echo $! > {pidfile}"
    with trio.fail_after(8):
        await run_process(["sh", "-c", script])
    assert await wait_gone(int(pidfile.read_text()))


async def test_double_forked_daemon_is_killed_and_reaped(tmp_path: Path, subreaper: None) -> None:
    pidfile = tmp_path / "daemon.pid"
    daemon = f"(setsid sh -c 'sleep 100000 & echo $! > {pidfile}' >/dev/null 2>&1 </dev/null &)"
    with trio.fail_after(8):
        await run_process(["sh", "-c", daemon + f"; while [ ! -s {pidfile} ]; do :; done"])
    pid = int(pidfile.read_text())
    assert await wait_gone(pid)
    # re-parented to us (the subreaper) and reaped: not even a zombie is left
    assert not await trio.Path(f"/proc/{pid}").exists()


async def test_marker_and_journal_cover_each_job(tmp_path: Path) -> None:
    events: list[tuple[str, object]] = []
    journaled = trio.Event()

    class Journal:
        async def started(self, job: JobRecord) -> None:
            events.append(("started", job))
            journaled.set()

        def ended(self, marker: str) -> None:
            events.append(("ended", marker))

    instance = uuid.uuid4().hex
    release = tmp_path / "release"
    # the job runs until its row is written (a job that ends at once is never journaled)
    wait = f"while [ ! -e {release} ]; do sleep 0.01; done"
    script = f'echo "${MARKER_VAR}"; cat /proc/$$/stat; {wait}'

    async def release_once_journaled() -> None:
        with trio.fail_after(10):
            await journaled.wait()
        release.touch()

    with contained(Containment(instance, Journal())):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(release_once_journaled)
            result = await run_process(["sh", "-c", script])
    marker = result.stdout.splitlines()[0]
    assert marker.startswith(instance + ":")
    (kind, job), (ended, gone) = events
    assert kind == "started"
    assert isinstance(job, JobRecord)
    assert job.marker == marker
    fields = result.stdout.splitlines()[1].rsplit(")", 1)[1].split()
    assert job.start_time == int(fields[19])  # field 22 of /proc/<pid>/stat
    assert (ended, gone) == ("ended", marker)


async def test_a_job_that_ends_at_once_is_never_journaled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_run, "JOURNAL_AFTER_S", 60.0)  # "at once", even on a busy host
    events: list[object] = []

    class Journal:
        async def started(self, job: JobRecord) -> None:
            events.append(job)

        def ended(self, marker: str) -> None:
            events.append(marker)

    with contained(Containment(uuid.uuid4().hex, Journal())):
        for _ in range(3):
            assert (await run_process(["true"])).ok
    assert events == []  # nothing written, nothing to forget


def _spawn_marked(marker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["sleep", "100000"], env={**os.environ, MARKER_VAR: marker}, start_new_session=True
    )


def test_end_previous_life_checks_start_time_and_markers() -> None:
    old = uuid.uuid4().hex
    recorded = _spawn_marked(f"{old}:job1")
    escaped = _spawn_marked(f"{old}:job2")  # journal row lost: found by its marker
    stranger = subprocess.Popen(["sleep", "100000"], start_new_session=True)
    try:
        stale = JobRecord("x:y", stranger.pid, (start_time(stranger.pid) or 0) + 1)
        jobs = [JobRecord(f"{old}:job1", recorded.pid, start_time(recorded.pid) or 0), stale]
        killed = end_previous_life(jobs, [old])
        # killed (by its journal row, by its marker) and reaped by end_previous_life, since
        # they are our children here: Popen sees no status
        for process in (recorded, escaped):
            process.wait(5)
            assert not os.path.exists(f"/proc/{process.pid}")
        assert stranger.poll() is None  # a pid whose start time differs is never touched
        assert killed >= 2
    finally:
        for process in (recorded, escaped, stranger):
            process.kill()
            process.wait()


_SPAWNER = """
import os, subprocess, sys, time
subprocess.Popen(["sleep", "100000"])                                     # background
subprocess.Popen(["sleep", "100000"], start_new_session=True,             # setsid
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:                                                        # double fork
    os.setsid()
    if os.fork() == 0:
        time.sleep(100000)
    os._exit(0)
print("spawned")
"""


async def test_stress_twenty_runs_leave_no_marked_process(tmp_path: Path, subreaper: None) -> None:
    script = tmp_path / "spawner.py"
    script.write_text(_SPAWNER)
    settings = Settings(tool_timeout_s=60.0)
    instance = uuid.uuid4().hex
    outputs: list[str] = []

    async def one(n: int) -> None:
        home = tmp_path / f"home{n}"
        home.mkdir()
        run = await run_isolated(
            "spawner", [sys.executable, str(script)], settings, cwd=tmp_path, home=home
        )
        outputs.append(run.stdout)

    with trio.fail_after(120), contained(Containment(instance)):
        async with trio.open_nursery() as nursery:
            for n in range(20):
                nursery.start_soon(one, n)
    assert outputs == ["spawned\n"] * 20
    assert marked_processes(instance + ":") == []


async def test_orphan_that_exited_during_the_job_is_reaped(tmp_path: Path, subreaper: None) -> None:
    pidfile = tmp_path / "orphan.pid"
    # the orphan exits at once; the job outlives it by more than the sweep's one-second margin
    script = f"(true & echo $! > {pidfile}); sleep 1.3"
    with trio.fail_after(10):
        await run_process(["sh", "-c", script])
    pid = int(pidfile.read_text())
    assert not await trio.Path(f"/proc/{pid}").exists()  # not left as our zombie
