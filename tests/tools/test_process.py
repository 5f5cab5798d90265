from __future__ import annotations

import trio

from runner.config import ResourceLimits
from runner.process.run import OutputTail, run_process
from tests.tools.conftest import wait_gone


async def test_run_process_returns_exit_code_and_output() -> None:
    lines: list[tuple[str, str]] = []
    result = await run_process(
        ["sh", "-c", "echo out; echo err >&2; exit 3"],
        on_line=lambda stream, line: lines.append((stream, line)),
    )
    assert result.returncode == 3
    assert not result.ok
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert sorted(lines) == [("stderr", "err"), ("stdout", "out")]


async def test_run_process_cancel_kills_whole_group(tmp_path: trio.Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    with trio.fail_after(10):
        with trio.move_on_after(0.3) as scope:
            await run_process(["sh", "-c", script])
    assert scope.cancelled_caught
    child = int(pidfile.read_text().strip())
    # the grandchild is gone (or a zombie reaped by init)
    assert await wait_gone(child)


async def test_run_process_kills_term_ignoring_process_after_grace() -> None:
    with trio.fail_after(10):
        with trio.move_on_after(0.2) as scope:
            await run_process(["sh", "-c", "trap '' TERM; sleep 300"])
    assert scope.cancelled_caught


async def test_run_process_feeds_stdin_and_applies_limits() -> None:
    result = await run_process(
        ["sh", "-c", "cat; ulimit -n"],
        stdin=b"hello\n",
        limits=ResourceLimits(open_files=77, address_space_mb=0, cpu_seconds=0, file_size_mb=0),
    )
    assert result.stdout == "hello\n77\n"


def test_output_tail_keeps_last_bytes_with_marker() -> None:
    tail = OutputTail(cap=4)
    tail.feed(b"abcdef")
    assert tail.truncated
    assert tail.text().endswith("cdef")
    assert "truncated" in tail.text()


async def test_run_process_missing_program_raises() -> None:
    try:
        await run_process(["/nonexistent/prog"])
    except FileNotFoundError:
        return
    raise AssertionError("expected FileNotFoundError")


def test_output_tail_keeps_the_last_cap_bytes_of_a_flood() -> None:
    tail = OutputTail(cap=1000)
    for n in range(5000):
        tail.feed(f"{n:08d}\n".encode())
    body = tail.text().split("\n", 1)[1]  # after the truncation marker
    assert len(body) == 1000
    assert body.endswith("00004999\n")
