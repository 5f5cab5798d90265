"""``bench/ws.py --only memory``: the service's RSS while stalled subscribers miss a run's logs.

The service runs as ``devteam-runner serve`` (production GC settings) in a child process.
``subscribers`` raw WebSocket connections with 4 KiB receive buffers follow the customer and
never read; a ``command`` tool prints ``lines`` log lines in one ``/implement``. RSS is read
from /proc before the stage and after it (and the peak, VmHWM); the same run without the
stalled subscribers separates their share from the journal's and the store's.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from pathlib import Path

import trio

from bench._server import http_client, memory_kib, post, served_process, task_list
from tests.helpers.gitrepo import make_remote

_TOOL = """\
import sys
count = int(sys.argv[1])
out = sys.stdout
for i in range(count):
    out.write(f"tool output line {i:7d}: compiling module_{i % 97} ... ok\\n")
with open("src/counter.py", "a") as f:
    f.write("# bumped\\n")
"""


def _stalled(port: int, count: int) -> list[socket.socket]:
    request = (
        "GET /ws/devteam?customerId=bench HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        socks.append(sock)
    return socks


async def _subscribed(url: str, count: int) -> None:
    async with http_client(url) as client:
        with trio.fail_after(60):
            while f"devteam_ws_subscribers {count}.0" not in (await client.get("/metrics")).text:  # noqa: ASYNC110 - another process
                await trio.sleep(0.05)


async def _run(url: str, remote: Path, pid: int, stalled: int) -> dict[str, int]:
    async with http_client(url) as client:
        await post(client, "/prep", {"repoUrl": str(remote), "taskId": "1.1.1",
                                     "customerId": "bench"})  # fmt: skip
        socks = _stalled(int(url.rsplit(":", 1)[1]), stalled)
        try:
            await _subscribed(url, stalled)
            before = memory_kib(pid)
            started = time.perf_counter()
            await post(client, "/implement", {"taskId": "1.1.1", "customerId": "bench",
                                              "tool": "command"})  # fmt: skip
            elapsed = time.perf_counter() - started
            await trio.sleep(0.5)  # the last log batch
            after = memory_kib(pid)
        finally:
            for sock in socks:
                sock.close()
    return {"before": before["VmRSS"], "after": after["VmRSS"], "peak": after["VmHWM"],
            "seconds": round(elapsed)}  # fmt: skip


def memory_main(lines: int, subscribers: int) -> None:
    """Print the service's RSS growth over a run printing ``lines`` lines."""
    print(f"{lines} log lines in one /implement; RSS of `devteam-runner serve` (MB)")
    print("stalled  before   after    peak   growth  stage s")
    for stalled in (subscribers, 0):
        with tempfile.TemporaryDirectory(prefix="bench-ws-memory-") as tmp:
            root = Path(tmp)
            (root / "tool.py").write_text(_TOOL)
            remote = make_remote(
                root / "counter.git",
                {"src/counter.py": "counter = 0\n",
                 "docs/DevTeam/tasks_list.md": task_list(1, "src/counter.py")},
            )  # fmt: skip
            env = {"TOOL_COMMAND": f"{sys.executable} {root / 'tool.py'} {lines}",
                   "ALLOW_LOCAL_REPOS": "true", "LOG_LEVEL": "warning"}  # fmt: skip
            with served_process(env) as (url, process):
                got = trio.run(_run, url, remote, process.pid, stalled)
        growth = (got["after"] - got["before"]) / 1024
        print(
            f"{stalled:7d} {got['before'] / 1024:7.1f} {got['after'] / 1024:7.1f} "
            f"{got['peak'] / 1024:7.1f} {growth:8.1f} {got['seconds']:8d}",
            flush=True,
        )
    print("target: growth <= 20 MB with the stalled subscribers")
