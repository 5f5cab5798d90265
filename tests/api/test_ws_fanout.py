"""``/ws/devteam`` on the service's own listener: same port as HTTP, direct fan-out, bounds."""

from __future__ import annotations

import functools
import json
import socket
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Ping, Request, TextMessage

from runner.actors import LOG, UPDATE, Event
from runner.app import create_app, open_services
from runner.serve import hypercorn_config, serve_app
from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import Service, running_service, service_settings
from tests.helpers.ws import ws_connect

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from pathlib import Path

    from runner.actors import Subscriber

_QUEUE = 16
_QUEUE_BYTES = 64 * 1024


def _service(tmp_path: Path, **overrides: Any) -> AbstractAsyncContextManager[Service]:
    return running_service(service_settings(tmp_path, **overrides), FakeStages())


def _port(service: Service) -> int:
    return int(service.url.rsplit(":", 1)[1])


def _log(seq: int, size: int) -> Event:
    frame = {"type": LOG, "customerId": "acme", "seq": seq, "message": "x" * size}
    return Event("acme", seq, LOG, frame)


def _done(seq: int) -> Event:
    frame = {"type": UPDATE, "customerId": "acme", "seq": seq, "status": "DONE"}
    return Event("acme", seq, UPDATE, frame)


async def _raw_client(
    port: int, receive_buffer: int
) -> tuple[trio.socket.SocketType, WSConnection]:
    """A WebSocket client (wsproto's handshake) with a small receive buffer."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    await sock.connect(("127.0.0.1", port))
    client = WSConnection(ConnectionType.CLIENT)
    await sock.send(client.send(Request(host="127.0.0.1", target="/ws/devteam?customerId=acme")))
    while not any(isinstance(e, AcceptConnection) for e in client.events()):
        client.receive_data(await sock.recv(4096))
    return sock, client


async def _subscribers(service: Service, count: int) -> list[Subscriber]:
    bus = service.services.bus
    while bus.subscriber_count < count:  # noqa: ASYNC110  # the server registers it
        await trio.sleep(0.01)
    return bus.subscribers()


async def test_http_and_the_websocket_share_one_port(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with _service(tmp_path) as service:
            async with httpx.AsyncClient(base_url=service.url) as client:
                first = await client.get("/health")
                second = await client.get("/healthz")  # the same keep-alive connection
                plain = await client.get("/ws/devteam")  # not an upgrade
                described = (await client.get("/openapi.json")).json()["info"]["description"]
            async with ws_connect(f"{service.ws_url}/ws/devteam?customerId=acme") as ws:
                await _subscribers(service, 1)
                service.services.bus.publish(_done(1))
                frame = json.loads(await ws.get_message())
    assert first.status_code == 200
    assert second.status_code == 200
    assert plain.status_code == 404  # an upgrade must open its connection: Hypercorn had it
    assert frame == {"type": UPDATE, "customerId": "acme", "seq": 1, "status": "DONE"}
    assert "WS /ws/devteam` on this same port" in described


async def test_a_stalled_subscriber_is_bounded_and_others_get_every_frame(
    tmp_path: Path,
) -> None:
    events, size = 300, 8192
    with trio.fail_after(60):
        async with _service(
            tmp_path, subscriber_queue_size=_QUEUE, subscriber_queue_bytes=_QUEUE_BYTES
        ) as service:
            stalled, _ = await _raw_client(_port(service), 4096)  # never reads
            async with ws_connect(f"{service.ws_url}/ws/devteam?customerId=acme") as ws:
                await _subscribers(service, 2)
                received: list[int] = []
                for seq in range(1, events + 1):
                    service.services.bus.publish(_log(seq, size))
                    received.append(json.loads(await ws.get_message())["seq"])  # keeps up
                backlog = [s for s in service.services.bus.subscribers() if s.pending()]
            stalled.close()
    assert received == list(range(1, events + 1))
    (slow,) = backlog
    # Its socket took what fits; then its queue hit the byte bound (8 events of 8 KiB)
    # and the rest was dropped, to be announced: not a queue growing with the run.
    assert slow.pending_bytes <= _QUEUE_BYTES + size + 100
    assert slow.pending() < _QUEUE
    assert slow.dropped > events / 2


async def test_frames_stay_whole_and_in_order_when_the_socket_takes_part_of_one(
    tmp_path: Path,
) -> None:
    events, size = 200, 60_000
    with trio.fail_after(60):
        async with _service(tmp_path, ws_ping_interval_s=0.005) as service:
            sock, client = await _raw_client(_port(service), 8192)
            await _subscribers(service, 1)
            for seq in range(1, events + 1):  # ~12 MB at once: the socket fills mid-frame
                service.services.bus.publish(_log(seq, size))
            service.services.bus.publish(_done(events + 1))
            frames, pings, text = [], 0, ""
            while not frames or frames[-1].get("status") != "DONE":
                await trio.sleep(0.001)  # a slow reader: the server keeps hitting a full socket
                client.receive_data(await sock.recv(8192))
                for event in client.events():
                    if isinstance(event, Ping):
                        pings += 1
                    elif isinstance(event, TextMessage):
                        text += event.data
                        if event.message_finished:
                            frames.append(json.loads(text))
                            text = ""
            sock.close()
    seqs = [f["seq"] for f in frames if f.get("seq", -1) > 0]
    assert seqs == sorted(seqs)  # in order; the dropped ones announced instead
    assert seqs[0] == 1
    assert seqs[-1] == events + 1
    dropped = sum(f.get("dropped", 0) for f in frames)
    assert len(seqs) + dropped == events + 1  # every event arrived or was announced
    assert pings > 0  # and the pings went out between frames, never inside one


async def test_close_handshake_and_going_away_on_shutdown(tmp_path: Path) -> None:
    settings = service_settings(tmp_path)
    stop = trio.Event()
    with trio.fail_after(30):
        async with open_services(settings, FakeStages()) as services, trio.open_nursery() as n:
            config = hypercorn_config(settings, bind="127.0.0.1:0")
            serving = functools.partial(serve_app, create_app(settings, services), config,
                                        shutdown_trigger=stop.wait)  # fmt: skip
            (bound,) = await n.start(serving)
            url = bound.replace("http://", "ws://") + "/ws/devteam"
            async with ws_connect(url) as ws:
                pass  # the client closes; the server answers its close frame
            closed_by_client = ws.closed
            async with ws_connect(url) as ws:
                while services.bus.subscriber_count != 1:  # noqa: ASYNC110  # server side
                    await trio.sleep(0.01)
                stop.set()
                with pytest.raises(ConnectionClosed) as shutdown:
                    await ws.get_message()
    assert closed_by_client is not None
    assert closed_by_client.code == 1000
    assert shutdown.value.reason.code == 1001  # going away, not a dropped connection
