"""Run schemathesis over the service's own OpenAPI schema (part of ``make test``).

The service runs on 127.0.0.1 with its real HTTP layer (validation, errors, idempotency,
customers, audit, health, OpenAPI) and scripted stages, so that generated repo URLs never
make the service clone from anywhere. A registered customer is offered for customer ids (half
of them; the others are generated), so that the customer routes are reached past the 404.
Checks: no 5xx, and every response conforms to the schema. Exit status is schemathesis's.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import running_service, service_settings

MAX_EXAMPLES = "40"
CUSTOMER = "acme"
"""Registered before the run; `schemathesis.toml` offers it for half of the customer ids."""
CONFIG = Path(__file__).with_name("schemathesis.toml")


async def main() -> int:
    """Start the service, run ``st run`` against it, return its exit status."""
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    with tempfile.TemporaryDirectory() as tmp:
        settings = service_settings(Path(tmp), max_body_bytes=64 * 1024)
        async with running_service(settings, FakeStages()) as service:
            async with service.client() as client:  # the customer the dictionary names
                registered = await client.put(f"/customers/{CUSTOMER}", json={"repoUrl": tmp})
                registered.raise_for_status()
            result = await trio.run_process(
                [
                    st, "--config-file", str(CONFIG), "run", f"{service.url}/openapi.json",
                    "--checks", "not_a_server_error,response_schema_conformance",
                    "--max-examples", MAX_EXAMPLES,
                    "--seed", "1",
                    "--generation-database", "none",
                    "--request-timeout", "30",
                    "--exclude-path", "/metrics",
                ],
                check=False,
            )  # fmt: skip
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(trio.run(main))
