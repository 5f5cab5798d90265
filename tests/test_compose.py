"""docker-compose.yml: PostgreSQL and two instances sharing it, each with its own identity.

Parsed as YAML (merge keys resolved as Compose resolves them), so the file is checked where
Docker is not available.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    """The compose file's services."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def _runners(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if s.get("build") == "."}


def _workspace_dir(service: dict[str, Any]) -> str:
    """The service's ``WORKSPACE_DIR``: its own, else the Dockerfile's."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    default = re.search(r"\bWORKSPACE_DIR=(\S+)", dockerfile)
    assert default is not None
    return str(service["environment"].get("WORKSPACE_DIR", default[1]))


def test_compose_two_instances_share_one_postgres_database(services: dict[str, Any]) -> None:
    runners = _runners(services)
    urls = {s["environment"]["DATABASE_URL"] for s in runners.values()}
    assert len(runners) == 2
    assert len(urls) == 1
    assert re.fullmatch(r"postgresql://[^@]+@postgres:5432/\w+", urls.pop())


def test_compose_instances_have_distinct_base_urls_naming_their_service(
    services: dict[str, Any],
) -> None:
    runners = _runners(services)
    base_urls = {name: s["environment"]["DEVTEAM_RUNNER_BASE_URL"] for name, s in runners.items()}
    assert len(set(base_urls.values())) == len(runners)
    for name, url in base_urls.items():
        assert url == f"http://{name}:8081"


def test_compose_instances_have_distinct_workspace_volumes(services: dict[str, Any]) -> None:
    sources = []
    for service in _runners(services).values():
        mounts = dict(volume.rsplit(":", 1)[::-1] for volume in service["volumes"])
        sources.append(mounts[_workspace_dir(service)])
    assert len(set(sources)) == len(sources) == 2


def test_compose_instances_have_distinct_host_ports(services: dict[str, Any]) -> None:
    ports = [port for s in _runners(services).values() for port in s["ports"]]
    assert sorted(p.split(":")[0] for p in ports) == ["8081", "8082"]


def test_compose_instances_wait_for_a_healthy_postgres(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    for service in _runners(services).values():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_password_comes_from_the_environment(services: dict[str, Any]) -> None:
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:-")
    for service in _runners(services).values():
        assert f":{password}@" in service["environment"]["DATABASE_URL"]
