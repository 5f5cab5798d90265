"""Three ``devteam-runner serve`` processes on one PostgreSQL database, attacked as a host is.

Thirty customers with real bare remotes run with a scripted tool that waits, during
IMPLEMENT, until the test lets it go. WebSocket clients on every instance follow every
customer. The instance owning the most customers is killed with SIGKILL in IMPLEMENT: the
others must own its customers again within TTL + 1 s, end its orphaned tools, resume the
runs and finish them; no client may see a gap or a duplicate ``seq`` of any customer, and
every IMPLEMENT, VERIFY and merge must have happened exactly once (stored stages, the
remotes' history). The second test freezes an owner (SIGSTOP/SIGCONT), cuts every LISTEN
connection and sends one idempotency key to two instances at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs
import httpx
import psycopg
import pytest
import trio

from tests.helpers.calc_repo import FILES, make_tool
from tests.helpers.gitrepo import git, make_remote
from tests.helpers.ws import ws_connect

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from tests.helpers.postgres import PostgresServer

TTL = 2.0
ROOT = Path(__file__).resolve().parents[2]

ONE_TASK = """# Tasks

Phase 1 — Calculator (Dependencies: none)

1.1 Operations (Dependencies: none)
1.1.1 Add sub function to [calc/ops.py](calc/ops.py).
"""

# IMPLEMENT waits (its pid and workspace written down) until the test creates ``go``.
WRAPPER = """
import os, pathlib, runpy, time
here = pathlib.Path(__file__).parent
(here / "started").mkdir(exist_ok=True)
(here / "started" / f"{os.getpid()}.tmp").write_text(os.getcwd())
os.replace(here / "started" / f"{os.getpid()}.tmp", here / "started" / str(os.getpid()))
while not (here / "go").exists():
    time.sleep(0.05)
runpy.run_path(str(here / "agent.py"), run_name="__main__")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return False


@attrs.define
class Instance:
    """One ``serve`` process."""

    name: str
    url: str
    workspace: Path
    process: subprocess.Popen[bytes]
    log: BinaryIO

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws/devteam"


@attrs.define
class Cluster:
    """Three instances, their database, the tool's directory and what clients saw."""

    database: str
    tool_dir: Path
    instances: list[Instance]
    seen: dict[str, dict[str, list[int]]] = attrs.field(factory=dict)
    """Per instance, per customer: the seqs its WebSocket client received, in order."""

    def owners(self) -> dict[str, str]:
        """Customer -> the instance name holding its live lease (the database's view)."""
        by_url = {i.url: i.name for i in self.instances}
        with psycopg.connect(self.database) as conn:
            rows = conn.execute(
                "SELECT l.customer_id, i.url FROM customer_leases l"
                " JOIN instances i ON i.instance_id = l.owner WHERE l.expires_at > now()"
            ).fetchall()
        return {row[0]: by_url.get(row[1], "?") for row in rows}

    def states(self) -> dict[str, dict[str, Any]]:
        with psycopg.connect(self.database) as conn:
            rows = conn.execute("SELECT customer_id, state FROM customer_state").fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}

    def statuses(self) -> dict[str, str]:
        return {customer: state["status"] for customer, state in self.states().items()}

    async def until_all_done(self, within: float) -> None:
        """Wait until every customer is DONE; else fail naming those that are not, and why."""
        try:
            await _until(lambda: set(self.statuses().values()) == {"DONE"}, within=within)
        except trio.TooSlowError:
            behind = {
                customer: {k: state.get(k) for k in ("status", "currentTask", "error")}
                for customer, state in self.states().items()
                if state["status"] != "DONE"
            }
            raise AssertionError(f"not DONE after {within:g} s: {behind}") from None

    def tools_of(self, instance: Instance) -> list[int]:
        """The pids of the scripted tools started in ``instance``'s workspace."""
        started = self.tool_dir / "started"
        return [
            int(p.name)
            for p in started.glob("*")
            if p.name.isdigit() and p.read_text().startswith(str(instance.workspace))
        ]


def _start(tmp_path: Path, name: str, database: str, tool_dir: Path) -> Instance:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    workspace = tmp_path / name / "workspace"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEVTEAM_RUNNER_PORT": str(port),
        "DEVTEAM_RUNNER_BASE_URL": url,
        "WORKSPACE_DIR": str(workspace),
        "DATABASE_URL": database,
        "LEASE_TTL_S": str(TTL),
        "TOOL_COMMAND": f"{sys.executable} {tool_dir / 'wrapper.py'}",
        "PYTHON_PATH": sys.executable,
        "TOOL_TIMEOUT_S": "300",
        "LOG_LEVEL": "warning",
    }
    log = (tmp_path / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    return Instance(name, url, workspace, process, log)


async def _until(check: Callable[[], bool], within: float = 60, every: float = 0.05) -> float:
    """Poll ``check`` (other processes' effects) until it holds; return how long it took."""
    start = trio.current_time()
    with trio.fail_after(within):
        while not await trio.to_thread.run_sync(check):  # noqa: ASYNC110  # other processes
            await trio.sleep(every)
    return trio.current_time() - start


async def _answers(instance: Instance) -> bool:
    async with httpx.AsyncClient() as client:
        with contextlib.suppress(httpx.TransportError):
            return (await client.get(f"{instance.url}/healthz", timeout=5)).status_code == 200
    return False


@contextlib.asynccontextmanager
async def _cluster(
    tmp_path: Path, server: PostgresServer, customers: list[str]
) -> AsyncIterator[Cluster]:
    database = server.create_database()
    make_tool(tmp_path)
    tool_dir = tmp_path / "tool"
    (tool_dir / "wrapper.py").write_text(WRAPPER)
    instances = [_start(tmp_path, f"i{n}", database, tool_dir) for n in range(3)]
    cluster = Cluster(database, tool_dir, instances)
    try:
        with trio.fail_after(60):
            for instance in instances:
                while not await _answers(instance):  # another process
                    assert instance.process.poll() is None, (
                        tmp_path / f"{instance.name}.log"
                    ).read_text()
                    await trio.sleep(0.05)
        async with httpx.AsyncClient(base_url=instances[0].url, timeout=60) as client:
            for customer in customers:
                remote = make_remote(
                    tmp_path / "remotes" / f"{customer}.git",
                    {**FILES, "docs/DevTeam/tasks_list.md": ONE_TASK},
                )
                response = await client.put(
                    f"/customers/{customer}",
                    json={
                        "repoUrl": str(remote),
                        "tool": "command",
                        "push": True,
                        "defaultCriteria": {"doc.updated": "task_outcomes.md"},
                    },
                )
                assert response.status_code == 200, response.text
        yield cluster
    finally:
        for instance in instances:
            with contextlib.suppress(ProcessLookupError):
                instance.process.send_signal(signal.SIGCONT)
                instance.process.kill()
            instance.process.wait()
            instance.log.close()
        for pid in [int(p.name) for p in (tool_dir / "started").glob("*") if p.name.isdigit()]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def _follow(
    instance: Instance, seen: dict[str, list[int]], *, task_status: trio.TaskStatus[None]
) -> None:
    """A WebSocket client of ``instance`` following every customer until it goes away."""
    started = False
    with contextlib.suppress(Exception):  # its instance may be killed: the test knows
        async with ws_connect(instance.ws_url) as ws:
            task_status.started()
            started = True
            while True:
                frame = json.loads(await ws.get_message())
                if frame.get("seq", -1) >= 0:
                    seen.setdefault(frame["customerId"], []).append(frame["seq"])
    if not started:
        task_status.started()


async def _run_all(cluster: Cluster, customers: list[str]) -> None:
    """Start customer ``i`` on instance ``i mod 3``: that instance claims and runs it."""
    clients = [httpx.AsyncClient(base_url=i.url, timeout=60) for i in cluster.instances]
    try:
        for n, customer in enumerate(customers):
            response = await clients[n % 3].post(f"/customers/{customer}/run")
            assert response.status_code == 202, response.text
    finally:
        for client in clients:
            await client.aclose()


def _assert_each_client_saw_every_seq_once(cluster: Cluster, names: list[str]) -> None:
    for name in names:
        for customer, seqs in cluster.seen[name].items():
            if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                Path("/tmp/seqdebug.json").write_text(
                    json.dumps([name, customer, seqs, _events(cluster, customer)], indent=1)
                )
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (name, customer, seqs)


def _assert_each_stage_and_merge_once(
    cluster: Cluster, tmp_path: Path, customers: list[str]
) -> None:
    with psycopg.connect(cluster.database) as conn:
        rows = conn.execute(
            "SELECT r.customer_id, s.stage, count(*) FROM run_stages s JOIN runs r USING (run_id)"
            " WHERE s.outcome = 'ok' AND s.stage IN ('implement', 'verify', 'complete')"
            " GROUP BY r.customer_id, s.stage"
        ).fetchall()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for customer, stage, count in rows:
        counts[customer][stage] = count
    for customer in customers:
        assert counts[customer] == {"implement": 1, "verify": 1, "complete": 1}, customer
        remote = tmp_path / "remotes" / f"{customer}.git"
        ops = git("show", "main:calc/ops.py", cwd=remote)
        assert ops.count("def sub(") == 1, customer
        history = git("log", "--format=%s", "main", cwd=remote).splitlines()
        merges = [subject for subject in history if subject.startswith("Merge task/")]
        edits = [subject for subject in history if subject.startswith("Task 1.1.1: Add sub")]
        assert (len(merges), len(edits)) == (1, 1), (customer, history)


@pytest.fixture
def customers() -> list[str]:
    return [f"c{n:02d}" for n in range(30)]


async def test_sigkill_of_the_busiest_owner_during_implement_loses_nothing(
    tmp_path: Path, postgres_server: PostgresServer, customers: list[str]
) -> None:
    with trio.fail_after(300):
        async with _cluster(tmp_path, postgres_server, customers) as cluster:
            async with trio.open_nursery() as clients:
                for instance in cluster.instances:
                    cluster.seen[instance.name] = {}
                    await clients.start(_follow, instance, cluster.seen[instance.name])
                await _run_all(cluster, customers)
                owners = cluster.owners()
                counts = {i.name: list(owners.values()).count(i.name) for i in cluster.instances}
                victim = next(
                    i for i in cluster.instances if counts[i.name] == max(counts.values())
                )
                mine = sorted(c for c, o in owners.items() if o == victim.name)
                await _until(lambda: len(cluster.tools_of(victim)) > 0)  # in IMPLEMENT
                tools = cluster.tools_of(victim)
                victim.process.send_signal(signal.SIGKILL)
                victim.process.wait()
                survivors = [i for i in cluster.instances if i is not victim]
                names = {i.name for i in survivors}

                def owned_again() -> bool:
                    now = cluster.owners()
                    return all(now.get(c) in names for c in mine)

                took = await _until(owned_again, within=30, every=0.02)
                await _until(lambda: not any(_alive(pid) for pid in tools), within=10)
                (cluster.tool_dir / "go").write_text("")
                await cluster.until_all_done(within=240)
                await _until(
                    lambda: all(
                        max(cluster.seen[i.name].get(c, [0])) >= _last_seq(cluster, c)
                        for i in survivors
                        for c in customers
                    ),
                    within=30,
                )
                clients.cancel_scope.cancel()
    assert took <= TTL + 1.0, f"owned again after {took:.2f} s"
    assert len(mine) >= 10
    _assert_each_client_saw_every_seq_once(cluster, sorted(names))
    _assert_each_stage_and_merge_once(cluster, tmp_path, customers)


def _events(cluster: Cluster, customer: str) -> list[tuple[int, str]]:
    with psycopg.connect(cluster.database) as conn:
        rows = conn.execute(
            "SELECT seq, substr(payload, 1, 150) FROM events WHERE customer_id = %s ORDER BY seq",
            (customer,),
        ).fetchall()
    return [(int(r[0]), r[1]) for r in rows]


def _last_seq(cluster: Cluster, customer: str) -> int:
    with psycopg.connect(cluster.database) as conn:
        row = conn.execute(
            "SELECT last_seq FROM event_seq WHERE customer_id = %s", (customer,)
        ).fetchone()
    return int(row[0]) if row else 0


def _cut_listeners(database: str) -> int:
    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


async def test_a_frozen_owner_a_cut_listen_and_a_key_sent_twice(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    customers = [f"c{n}" for n in range(6)]
    with trio.fail_after(240):
        async with _cluster(tmp_path, postgres_server, [*customers, "once"]) as cluster:
            async with trio.open_nursery() as clients:
                for instance in cluster.instances:
                    cluster.seen[instance.name] = {}
                    await clients.start(_follow, instance, cluster.seen[instance.name])
                await _run_all(cluster, customers)
                frozen = cluster.instances[0]
                await _until(lambda: len(cluster.tools_of(frozen)) == 2)  # c0 and c3, waiting
                tools = cluster.tools_of(frozen)
                assert _cut_listeners(cluster.database) == 3  # every instance's LISTEN
                frozen.process.send_signal(signal.SIGSTOP)
                others = {i.name for i in cluster.instances[1:]}
                took = await _until(
                    lambda: all(cluster.owners().get(c) in others for c in ("c0", "c3")),
                    within=30,
                    every=0.02,
                )
                assert all(_alive(pid) for pid in tools)  # frozen with their instance
                frozen.process.send_signal(signal.SIGCONT)
                # it wakes up past its deadline: it stops those customers and their tools
                await _until(lambda: not any(_alive(pid) for pid in tools), within=TTL * 3)

                async def run_once(instance: Instance) -> httpx.Response:
                    async with httpx.AsyncClient(base_url=instance.url, timeout=60) as client:
                        return await client.post(
                            "/customers/once/run", headers={"Idempotency-Key": "k-once"}
                        )

                answers: list[httpx.Response] = []

                async def collect(make: Callable[[], Awaitable[httpx.Response]]) -> None:
                    answers.append(await make())

                async with trio.open_nursery() as both:
                    for instance in cluster.instances[1:]:
                        both.start_soon(collect, lambda i=instance: run_once(i))
                (cluster.tool_dir / "go").write_text("")
                everyone = [*customers, "once"]
                await _until(
                    lambda: {cluster.statuses().get(c) for c in everyone} == {"DONE"}, within=180
                )
                await _until(
                    lambda: all(
                        max(cluster.seen[i.name].get(c, [0])) >= _last_seq(cluster, c)
                        for i in cluster.instances
                        for c in customers
                    ),
                    within=30,
                )
                clients.cancel_scope.cancel()
            with psycopg.connect(cluster.database) as conn:
                runs = conn.execute(
                    "SELECT count(*) FROM runs WHERE customer_id = 'once'"
                ).fetchone()
    assert took <= TTL + 1.0, f"owned again after {took:.2f} s"
    assert "lease_lost" in (tmp_path / "i0.log").read_text()  # the frozen one knew on waking
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].content == answers[1].content
    assert runs is not None
    assert runs[0] == 1  # one execution for the key
    _assert_each_client_saw_every_seq_once(cluster, [i.name for i in cluster.instances])
    _assert_each_stage_and_merge_once(cluster, tmp_path, [*customers, "once"])
