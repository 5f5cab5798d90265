from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from runner.config import parse_api_tokens
from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import Service, running_service, service_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

TOKEN_A = "token-for-acme-only"
TOKEN_ALL = "token-for-everyone"


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[Service]:
    tokens = parse_api_tokens(f"{TOKEN_A}=acme;{TOKEN_ALL}=*")
    with trio.fail_after(60):
        settings = service_settings(tmp_path, api_tokens=tokens)
        async with running_service(settings, FakeStages()) as svc:
            yield svc


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_health_endpoints_need_no_token(secured: Service) -> None:
    async with secured.client() as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/health")).status_code in (200, 503)


async def test_missing_or_unknown_token_is_401(secured: Service) -> None:
    async with secured.client() as client:
        missing = await client.get("/customers")
        unknown = await client.get("/customers", headers=_bearer("nope"))
        basic = await client.get("/customers", headers={"Authorization": "Basic abc"})
    for response in (missing, unknown, basic):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


async def test_token_reaches_only_its_customers(secured: Service) -> None:
    async with secured.client() as client:
        own = await client.put(
            "/customers/acme", json={"repoUrl": "/srv/a.git"}, headers=_bearer(TOKEN_A)
        )
        other = await client.put(
            "/customers/globex", json={"repoUrl": "/srv/g.git"}, headers=_bearer(TOKEN_A)
        )
        admin = await client.put(
            "/customers/globex", json={"repoUrl": "/srv/g.git"}, headers=_bearer(TOKEN_ALL)
        )
        listed = await client.get("/customers", headers=_bearer(TOKEN_A))
        audit = await client.get("/audit", params={"customerId": "acme"}, headers=_bearer(TOKEN_A))
    assert own.status_code == 200
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "forbidden"
    assert admin.status_code == 200
    assert [c["customerId"] for c in listed.json()["customers"]] == ["acme"]
    entries = audit.json()["entries"]
    assert entries[0]["tokenId"] == "tok1"
    assert TOKEN_A not in audit.text


async def test_websocket_needs_a_token_that_reaches_the_customer(secured: Service) -> None:
    import json

    from trio_websocket import ConnectionClosed

    from tests.helpers.ws import ws_connect

    base = f"{secured.ws_url}/ws/devteam"
    with trio.fail_after(30):
        async with ws_connect(f"{base}?customerId=globex&token={TOKEN_A}") as ws:
            frame = json.loads(await ws.get_message())
            assert frame["type"] == "error"
            assert frame["error"]["code"] == "forbidden"
            with pytest.raises(ConnectionClosed):
                await ws.get_message()
        async with ws_connect(f"{base}?customerId=acme&token={TOKEN_A}") as ws:
            async with secured.client() as client:
                await client.put(
                    "/customers/acme", json={"repoUrl": "/srv/a.git"}, headers=_bearer(TOKEN_A)
                )
                await client.post("/customers/acme/run", headers=_bearer(TOKEN_A))
            frame = json.loads(await ws.get_message())
            assert frame["customerId"] == "acme"


async def test_websocket_without_token_is_refused(secured: Service) -> None:
    from trio_websocket import ConnectionRejected

    from tests.helpers.ws import ws_connect

    rejected = pytest.RaisesGroup(ConnectionRejected, flatten_subgroups=True)
    with trio.fail_after(30), rejected as caught:
        async with ws_connect(f"{secured.ws_url}/ws/devteam") as ws:
            await ws.get_message()
    (error,) = caught.value.exceptions
    assert isinstance(error, ConnectionRejected)
    assert error.status_code == 401
    assert b'"code":"unauthorized"' in (error.body or b"")
