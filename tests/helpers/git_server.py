"""Test git servers on 127.0.0.1: smart HTTP with basic auth, and one that never answers.

``GitHttpServer`` runs ``git http-backend`` (CGI) behind a threaded ``http.server`` that
demands ``Authorization: Basic`` with the given user and token::

    with GitHttpServer(project_root, username="bot", token="s3cret") as server:
        url = server.url("origin.git")        # http://127.0.0.1:<port>/origin.git

Set ``server.fail_with = 503`` to answer every request with that status (a remote having a
bad moment), or ``server.hang_up = True`` to send half of every pack and close the connection
(git: "early EOF").

``serve_stalled`` (trio) accepts TCP connections and never sends a byte: a remote that hangs.
"""

from __future__ import annotations

import base64
import http.server
import os
import subprocess
import threading
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

__all__ = ["GitHttpServer", "serve_stalled"]


def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # stdlib name
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Serve info/refs and dumb objects."""
        self._serve()

    def do_POST(self) -> None:
        """Serve upload-pack / receive-pack."""
        self._serve()

    def _serve(self) -> None:
        self.server.owner.auth_headers.append(self.headers.get("Authorization", ""))
        if self.server.owner.fail_with is not None:
            self.send_response(self.server.owner.fail_with)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.headers.get("Authorization", "") != self.server.owner.expected_auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = _read_body(self)
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "GIT_PROJECT_ROOT": str(self.server.owner.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": self.server.owner.username,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        backend = self.server.owner.backend
        result = subprocess.run([backend], input=body, env=env, capture_output=True, check=False)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.server.owner.hang_up and b"want " in body:  # a pack is on its way
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            return
        self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: GitHttpServer


class GitHttpServer:
    """Smart-HTTP git server over the bare repositories under ``root``, with basic auth.

    Attributes:
        auth_headers: Every ``Authorization`` header received (to check what git sent).
        fail_with: When set, the HTTP status every request gets (nothing served).
        hang_up: When true, answers carrying a pack are cut in half and the connection closed.
    """

    def __init__(self, root: Path, *, username: str, token: str) -> None:
        self.root = root
        self.username = username
        credentials = base64.b64encode(f"{username}:{token}".encode()).decode()
        self.expected_auth = f"Basic {credentials}"
        self.auth_headers: list[str] = []
        self.fail_with: int | None = None
        self.hang_up = False
        exec_path = subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.backend = f"{exec_path}/git-http-backend"
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    def url(self, repo: str) -> str:
        """Return the clone URL of ``repo`` (a path relative to ``root``)."""
        return f"http://127.0.0.1:{self.port}/{repo}"

    def __enter__(self) -> GitHttpServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


async def _never_answer(stream: trio.SocketStream) -> None:
    async with stream:
        await trio.sleep_forever()


async def serve_stalled(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Accept TCP connections on 127.0.0.1 and never answer; report the port via ``start``."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, _never_answer, listeners)
        task_status.started(port)
