"""Two instances of the service on one PostgreSQL database, in this process.

Each instance is a whole service (store, registry, its listener with Hypercorn) on its own
loopback port with its own workspace; they share the database and, here, the scripted
stages (the stand-in for a repository both can reach). The process-level cluster, with
``kill -9`` and SIGSTOP, is tests/cluster/test_cluster.py.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
import trio
from trio_websocket import open_websocket_url

from runner.actors import EventBus, Relay
from runner.errors import LeaseLostError
from runner.store import fenced, open_postgres_store
from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import Service, running_service, service_settings
from tests.helpers.ws import frames_until, status_is
from tests.store.factories import customer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from tests.helpers.postgres import PostgresServer

TTL = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def instance(
    tmp_path: Path, url: str, stages: FakeStages, name: str
) -> AsyncIterator[Service]:
    """One instance: its own port (known before it starts: it is its base URL) and workspace."""
    port = _free_port()
    settings = service_settings(
        tmp_path / name,
        postgres_url=url,
        base_url=f"http://127.0.0.1:{port}",
        lease_ttl_s=TTL,
    )
    async with running_service(settings, stages, bind=f"127.0.0.1:{port}") as service:
        yield service


@asynccontextmanager
async def instances(
    tmp_path: Path, url: str, stages: FakeStages, count: int = 2
) -> AsyncIterator[list[Service]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(instance(tmp_path, url, stages, f"i{n}"))
            for n in range(count)
        ]


async def _register(service: Service, customer: str = "acme") -> None:
    async with service.client() as client:
        response = await client.put(f"/customers/{customer}", json={"repoUrl": f"/srv/{customer}"})
        assert response.status_code == 200, response.text


async def _view(service: Service, customer: str = "acme") -> dict[str, Any]:
    async with service.client() as client:
        response = await client.get(f"/customers/{customer}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def _until(check: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    with trio.fail_after(within):
        while not await check():  # noqa: ASYNC110  # another instance: no event to wait on
            await trio.sleep(0.05)  # polling another instance's effect, with a deadline


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()


async def test_a_command_sent_to_another_instance_is_forwarded_to_the_owner(
    tmp_path: Path, database: str
) -> None:
    stages = FakeStages()
    gate = stages.gate("implement")
    with trio.fail_after(60):
        async with instances(tmp_path, database, stages) as (a, b):
            await _register(b)
            async with a.client() as to_a, b.client() as to_b:
                assert (await to_a.post("/customers/acme/run")).status_code == 202
                await stages.entered["implement"].wait()
                view = await _view(b)  # read from the database, not forwarded
                assert view["owner"] == {
                    "instanceId": a.services.registry.instance_id,
                    "url": a.url,
                }
                assert view["state"]["status"] == "IMPLEMENTING"
                paused = await to_b.post("/customers/acme/pause", json={"idempotencyKey": "p1"})
                assert paused.status_code == 200, paused.text
                assert paused.json()["pauseRequested"] is True
                assert paused.headers["X-Request-ID"]
                health = (await to_b.get("/health")).json()
                assert health["instance"] == {
                    "instanceId": b.services.registry.instance_id,
                    "url": b.url,
                }
            assert not b.services.registry.owns("acme")
            gate.set()

            async def paused_on_a() -> bool:
                return (await _view(b))["state"]["status"] == "PAUSED"

            await _until(paused_on_a)
            audit = await a.services.store.audit.list("acme", 100, None)
    pauses = [row for row in audit if "pause" in row.entry.action]
    assert len(pauses) == 1  # audited by the owner only
    assert [c for c in stages.calls if c[1] == "implement"] == [("acme", "implement", "1.1.1")]


async def test_a_websocket_on_any_instance_gets_the_owner_s_events_without_gap(
    tmp_path: Path, database: str
) -> None:
    stages = FakeStages()
    with trio.fail_after(60):
        async with instances(tmp_path, database, stages) as (a, b):
            await _register(a)
            url = f"{b.ws_url}/ws/devteam?customerId=acme"
            async with open_websocket_url(url) as ws, a.client() as to_a:
                assert (await to_a.post("/customers/acme/run")).status_code == 202
                frames = await frames_until(ws, status_is("DONE"))
            assert a.services.registry.owns("acme")
            assert b.services.registry.relay is not None
            assert b.services.registry.relay.relayed >= len(frames)
            stored = await a.services.store.events.since(["acme"], 0, 10_000)
    seqs = [f["seq"] for f in frames]
    assert seqs == [e.seq for e in stored if e.seq >= seqs[0]]  # every one, in order, once
    assert seqs[-1] == stored[-1].seq


async def test_an_instance_that_loses_a_lease_stops_the_customer_and_records_nothing(
    tmp_path: Path, database: str
) -> None:
    stages = FakeStages()
    stages.gate("implement")
    with trio.fail_after(60):
        async with instance(tmp_path, database, stages, "a") as a:
            await _register(a)
            async with a.client() as to_a:
                assert (await to_a.post("/customers/acme/run")).status_code == 202
            await stages.entered["implement"].wait()
            store = a.services.store
            lease = await store.leases.holder("acme")
            assert lease is not None
            # Another instance takes the customer (as after an expiry it could not see).
            await store.write(
                lambda conn: conn.execute(
                    "UPDATE customer_leases SET owner = 'thief', token = token + 1"
                    " WHERE customer_id = 'acme'"
                )
            )
            # Read after the steal: a log line flushed just before it was still the owner's.
            last = await store.events.last_seq("acme")

            async def gone() -> bool:
                return not a.services.registry.owns("acme")

            await _until(gone, within=TTL * 3)
            with fenced(lease), pytest.raises(LeaseLostError):
                await store.customers.save_state("acme", {"status": "DONE"}, "2026-01-01T00:00:00Z")
            assert await store.events.last_seq("acme") == last  # the stop was not recorded
            state = await store.customers.load_state("acme")
            assert state is not None
            assert state["status"] == "IMPLEMENTING"  # as the new owner will find it
    assert ("acme", "verify", "1.1.1") not in stages.calls


async def test_a_run_left_by_a_stopped_instance_is_resumed_by_another(
    tmp_path: Path, database: str
) -> None:
    stages = FakeStages()
    stages.gate("verify")
    with trio.fail_after(60):
        async with instance(tmp_path, database, stages, "b") as b:
            async with instance(tmp_path, database, stages, "a") as a:
                await _register(a)
                async with a.client() as to_a:
                    assert (await to_a.post("/customers/acme/run")).status_code == 202
                await stages.entered["verify"].wait()
                del stages.gates["verify"]  # the next VERIFY passes
            # a is gone (its leases released on the way out): b adopts the run

            async def done_on_b() -> bool:
                return (await _view(b))["state"]["status"] == "DONE"

            await _until(done_on_b)
            assert b.services.registry.adopted == 1
            view = await _view(b)
            runs = await b.services.store.runs.list("acme", 10)
    assert view["owner"]["instanceId"] == b.services.registry.instance_id
    assert [r.status for r in runs] == ["DONE"]
    completes = [c for c in stages.calls if c[1] == "complete"]
    assert completes == [("acme", "complete", t) for t in stages.tasks]  # each merge once


async def test_one_idempotency_key_sent_to_two_instances_executes_once(
    tmp_path: Path, database: str
) -> None:
    stages = FakeStages(tasks=("1.1.1",))
    with trio.fail_after(60):
        async with instances(tmp_path, database, stages) as (a, b):
            await _register(a)
            async with a.client() as to_a:  # a owns acme from now on
                assert (await to_a.post("/customers/acme/run")).status_code == 202

            async def done() -> bool:
                return (await _view(a))["state"]["status"] == "DONE"

            await _until(done)
            answers: dict[str, Any] = {}

            async def run_on(service: Service) -> None:
                async with service.client() as client:
                    answers[service.url] = await client.post(
                        "/customers/acme/run", headers={"Idempotency-Key": "once"}
                    )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_on, a)
                nursery.start_soon(run_on, b)
            await _until(done)
            runs = await a.services.store.runs.list("acme", 10)
    first, second = answers[a.url], answers[b.url]
    assert first.status_code == second.status_code == 202
    assert first.content == second.content
    assert len(runs) == 2  # the first run, and one for the key


async def test_a_customer_whose_owner_cannot_take_the_request_is_503_with_retry_after(
    tmp_path: Path, database: str
) -> None:
    stages = FakeStages()
    with trio.fail_after(60):
        async with instance(tmp_path, database, stages, "a") as a:
            await _register(a)
            store = a.services.store
            gone = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
            await store.leases.register_instance("ghost", gone, "2026-01-01T00:00:00Z")
            assert await store.leases.claim("ghost", 60.0, customer_id="acme")
            async with a.client() as client:
                unreachable = await client.post("/customers/acme/pause")
                again = await client.post(
                    "/customers/acme/pause", headers={"X-Devteam-Forwarded-By": "other"}
                )
            audit = await store.audit.list("acme", 10, None)
    for answer in (unreachable, again):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "owner_unavailable"
        assert answer.headers["Retry-After"] == "1"  # the lease TTL, rounded up
    assert "cannot be reached" in unreachable.json()["error"]["message"]
    assert "forwarded here already" in again.json()["error"]["message"]
    pauses = [row.entry.status_code for row in audit if "pause" in row.entry.action]
    assert pauses == [503, 503]  # answered here: audited here
    assert stages.calls == []


class _Deaf:
    """A LISTEN connection on which no notification ever arrives."""

    async def receive(self) -> str:
        await trio.sleep_forever()
        raise AssertionError  # unreachable

    def __aiter__(self) -> _Deaf:
        return self

    async def __anext__(self) -> str:
        return await self.receive()


async def test_the_relay_polls_when_no_notification_comes(database: str) -> None:
    @asynccontextmanager
    async def deaf(channel: str) -> AsyncIterator[Any]:
        yield _Deaf()

    async with open_postgres_store(database) as store:
        await store.customers.upsert(customer("acme"))
        await store.events.append("acme", None, "execution-log", {"n": 0}, "2026-01-01T00:00:00Z")
        bus = EventBus()
        relay = Relay(store, bus, deaf, owns=lambda customer_id: False, poll_s=0.05)
        with bus.subscribe() as subscriber, trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await nursery.start(relay.run)  # from the last seq on: 0 is not sent
                for n in (1, 2):
                    await store.events.append(
                        "acme", None, "execution-log", {"n": n}, "2026-01-01T00:00:01Z"
                    )
                received = [await subscriber.receive() for _ in range(2)]
                subscriber.close()
                nursery.cancel_scope.cancel()
        async with trio.open_nursery() as nursery:
            await nursery.start(relay.run)
            await store.events.append("acme", None, "execution-log", {"n": 3}, "2026-01-01Z")
            with trio.fail_after(10):  # nobody subscribed: moved past, nothing read
                while bus.last_seq["acme"] != 4:  # noqa: ASYNC110  # the poll's effect
                    await trio.sleep(0.02)
            nursery.cancel_scope.cancel()
    assert [(e.seq, e.frame["n"]) for e in received] == [(2, 1), (3, 2)]
    assert relay.relayed == 2
