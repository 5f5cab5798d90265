"""A VERIFY gate that leaves a background child holding its output still ends with its gate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from runner.config import Settings
from runner.verify import verify
from tests.tools.conftest import wait_gone

if TYPE_CHECKING:
    from pathlib import Path


async def test_gate_with_a_background_child_does_not_wait_for_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "server.pid"
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / ".devteam.toml").write_text(
        f"[verify]\ntest = '(sleep 100000) & echo $! > {pidfile}; echo started'\n"
    )
    with trio.fail_after(20):  # the old code waited on the pipe until VERIFY_TIMEOUT_S (600 s)
        outcome = await verify(
            tmp_path / "repo",
            {"tests.pass": "true"},
            changed_files=(),
            settings=Settings(verify_timeout_s=600.0),
        )
    assert outcome.results_wire()["tests.pass"]["passed"] is True
    assert await wait_gone(int(pidfile.read_text()))
