"""A request that fails leaves no customer registered (CONTRACT §2: no side effects)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.service import Service


async def test_failed_prep_with_only_repo_url_registers_no_default_customer(
    service: Service, remote: Path
) -> None:
    async with service.client() as client:
        failed = await client.post("/prep", json={"repoUrl": "file:///etc", "taskId": "1.1.1"})
        after_failure = await client.get("/customers")
        gone = await client.get("/customers/default")
        prep = await client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
        default = await client.get("/customers/default")
    assert failed.status_code >= 400, failed.text
    assert after_failure.json()["customers"] == []
    assert gone.status_code == 404
    assert prep.status_code == 200, prep.text
    assert prep.json()["customerId"] == "default"
    assert default.json()["repoUrl"] == str(remote)
    assert default.json()["state"]["status"] != "FAILED"


async def test_failed_select_with_only_repo_url_registers_no_customer(
    service: Service, tmp_path: Path
) -> None:
    async with service.client() as client:
        failed = await client.get("/tasks/next", params={"repoUrl": str(tmp_path / "no.git")})
        customers = await client.get("/customers")
    assert failed.status_code >= 400, failed.text
    assert customers.json()["customers"] == []
