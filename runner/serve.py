"""``devteam-runner serve``: one listener for HTTP (Hypercorn's trio worker) and the WebSocket.

The service accepts connections itself and reads the request line: ``GET /ws/devteam``
goes to the app's WebSocket endpoint, which needs the raw socket (the publisher writes
each event's frame into every subscriber's socket without blocking); every other
connection goes to Hypercorn's connection handler with the bytes read so far, as if
Hypercorn had accepted it. Same port, same config; only the accept loop is ours.

Hypercorn's ``serve`` owns its listeners and offers no hook to take a connection back, so
this mirrors its ``worker_serve`` (lifespan, graceful shutdown) around its ``TCPServer``.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import signal
import socket
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import structlog
import trio
from hypercorn.config import Config
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import repr_socket_addr, wrap_app

from runner.app import create_app, devteam_socket, open_services
from runner.pipeline import PipelineStages
from runner.process import become_subreaper

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from quart_trio import QuartTrio

    from runner.config import Settings

__all__ = ["hypercorn_config", "serve", "serve_app", "tune_gc", "tune_malloc"]

log = structlog.get_logger(__name__)

_REQUEST_LINE_BYTES = 8192
# accept() failures that only concern the connection being accepted (trio's own list)
_IGNORED_ACCEPT_ERRORS = {errno.EPERM, errno.ECONNABORTED, errno.EPROTO, errno.ENETDOWN,
                          errno.ENOPROTOOPT, errno.EHOSTDOWN, errno.ENONET, errno.EHOSTUNREACH,
                          errno.EOPNOTSUPP, errno.ENETUNREACH}  # fmt: skip
_ACCEPT_BACKOFF_S = 0.1
# glibc's mallopt() parameters (malloc.h), both set to glibc's default, kept from then on
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD_BYTES = 128 * 1024


class ConnectionHandler(Protocol):
    """What the listener hands the connections it does not give Hypercorn."""

    def routes(self, request_line: bytes) -> bool:
        """Whether the connection whose first line is ``request_line`` is for this handler."""
        ...

    async def serve(self, sock: socket.socket, head: bytes) -> None:
        """Serve the connection (``head``: the bytes read of it so far); close ``sock``."""
        ...

    def going_away(self) -> None:
        """End every connection (shutdown)."""
        ...


def hypercorn_config(settings: Settings, bind: str | None = None) -> Config:
    """Return the Hypercorn config for ``settings`` (``bind`` overrides host:port)."""
    config = Config()
    config.bind = [bind or f"{settings.host}:{settings.port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 5.0
    return config


class _Replayed:
    """A connection as Hypercorn reads it: first the bytes the listener read, then the rest."""

    def __init__(self, stream: trio.SocketStream, head: bytes) -> None:
        self._stream = stream
        self._head = head
        self.socket = stream.socket  # Hypercorn reads the peer's address from it

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._head:
            head, self._head = self._head, b""
            await trio.lowlevel.checkpoint()
            return head
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _read_request_line(sock: socket.socket) -> bytes:
    """Read until the first line is complete (or the peer stops); return what was read."""
    head = b""
    while b"\n" not in head and len(head) < _REQUEST_LINE_BYTES:
        await trio.lowlevel.wait_readable(sock)
        try:
            chunk = sock.recv(_REQUEST_LINE_BYTES)
        except BlockingIOError:
            continue
        if not chunk:
            break
        head += chunk
    return head


@attrs.define
class _Server:
    """Accepts connections and routes each to the handler or to Hypercorn."""

    app: Any  # Hypercorn's wrapped ASGI app
    config: Config
    handler: ConnectionHandler
    context: WorkerContext
    state: dict[str, Any]

    async def accept(self, listener: socket.socket, nursery: trio.Nursery) -> None:
        """Accept connections on ``listener`` until cancelled; serve each in ``nursery``."""
        while True:
            await trio.lowlevel.wait_readable(listener)
            try:
                sock, _address = listener.accept()
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno in _IGNORED_ACCEPT_ERRORS:
                    continue
                # out of descriptors or memory: say so and back off (trio.serve_listeners)
                log.error("accept_failed", error=str(exc))
                await trio.sleep(_ACCEPT_BACKOFF_S)
                continue
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            nursery.start_soon(self.route, sock)

    async def route(self, sock: socket.socket) -> None:
        """Read the request line; serve the connection here or hand it to Hypercorn."""
        with sock:  # closed whatever happens (closing it twice is harmless)
            head = b""
            with trio.move_on_after(self.config.keep_alive_timeout):
                try:
                    head = await _read_request_line(sock)
                except OSError:
                    return
            if not head:
                return  # silent or gone before saying anything
            if self.handler.routes(head.partition(b"\n")[0].rstrip(b"\r")):
                await self.handler.serve(sock, head)
                return
            stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
            connection = _Replayed(stream, head)
            state = ConnectionState(self.state.copy())
            # TCPServer is typed for trio's streams; _Replayed is one as far as it uses it.
            await TCPServer(self.app, self.config, self.context, state, connection)  # type: ignore[arg-type]


async def serve_app(
    app: QuartTrio,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` (HTTP through Hypercorn, ``/ws/devteam`` itself) on ``config.bind``.

    Reports the bound URLs through ``task_status``; runs until ``shutdown_trigger``
    returns or it is cancelled, then closes the connections gracefully.
    """
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    state: dict[str, Any] = {}
    lifespan = Lifespan(wrapped, config, state)
    context = WorkerContext(None)
    handler = devteam_socket(app)
    server = _Server(wrapped, config, handler, context, state)
    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        listeners = config.create_sockets().insecure_sockets
        async with trio.open_nursery() as connections:
            try:
                async with trio.open_nursery() as accepting:
                    for listener in listeners:
                        listener.listen(config.backlog)
                        listener.setblocking(False)
                        accepting.start_soon(server.accept, listener, connections)
                    task_status.started([f"http://{repr_socket_addr(s.family, s.getsockname())}"
                                         for s in listeners])  # fmt: skip
                    await (shutdown_trigger or trio.sleep_forever)()
                    accepting.cancel_scope.cancel()
            finally:
                for listener in listeners:
                    listener.close()
                handler.going_away()
                await context.terminated.set()  # Hypercorn closes idle keep-alive connections
                connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


async def _until_signal() -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("shutting_down", signal=signal.Signals(signum).name)
            return


def tune_gc() -> None:
    """Collect young garbage less often and keep start-up objects out of collections.

    Fan-out to many WebSocket subscribers allocates many short-lived objects; with the
    default thresholds about half of the service's CPU went to the collector (bench/ws.py).
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def tune_malloc() -> bool:
    """Have glibc's malloc map each block of 128 KiB or more on its own, unmapped when freed.

    glibc raises this threshold to the size of every mapped block freed (up to 32 MiB), so
    after the first big log batch the next ones (each a message, its JSON text and its
    frame: hundreds of KiB while a tool prints fast) went to the heap, where small objects
    allocated meanwhile kept the freed space from being returned. A run printing 300,000
    lines grew RSS by ~14 MB, ~9 MB of it free heap; ~20 MB with 200 stalled subscribers,
    whose queues hold a few batches (bench/ws.py --only memory). Setting the threshold
    turns the raising off; the trim threshold (free space at the heap's top given back),
    which glibc raised along with it, is set back too.

    Returns:
        Whether it applied (glibc's malloc only).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except AttributeError:  # not glibc (macOS)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return all([mallopt(_M_MMAP_THRESHOLD, _THRESHOLD_BYTES),
                mallopt(_M_TRIM_THRESHOLD, _THRESHOLD_BYTES)])  # fmt: skip


async def serve(settings: Settings) -> None:
    """Run the service until SIGINT or SIGTERM."""
    tune_malloc()  # before the services allocate
    # Descendants a tool detached (setsid, double fork) are re-parented to us, not to init,
    # so that ending a job can reap them.
    subreaper = become_subreaper()
    async with open_services(settings, PipelineStages()) as services:
        app = create_app(settings, services)
        tune_gc()
        log.info("serving", bind=f"{settings.host}:{settings.port}", subreaper=subreaper)
        await serve_app(app, hypercorn_config(settings), shutdown_trigger=_until_signal)
