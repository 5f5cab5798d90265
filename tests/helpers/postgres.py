"""A throwaway PostgreSQL server for tests and benchmarks: initdb into a temp dir, one port.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser``), which owns the temp dir. TCP connections need a password (scram), as a
hosted database would; the Unix socket in the temp dir is for nobody else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import psycopg

if TYPE_CHECKING:
    from collections.abc import Iterator

PASSWORD = "pg-test-secret-4711"
"""The superuser's password: tests check it never leaks."""
_SEARCH = ("/usr/lib/postgresql",)


def find_bin_dir() -> Path | None:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Debian's packages put them in ``/usr/lib/postgresql/<version>/bin`` (the newest wins);
    other systems have them on PATH.
    """
    for root in _SEARCH:
        versions = sorted(Path(root).glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
        if versions:
            return versions[-1].parent
    initdb = shutil.which("initdb")
    return None if initdb is None else Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.frozen
class PostgresServer:
    """A running throwaway server."""

    port: int
    data_dir: Path

    def url(self, dbname: str = "postgres") -> str:
        """The URL of ``dbname``, password included."""
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """Create an empty database of a fresh name; return its URL.

        Its text sorts by ICU's ``en-US`` rules, as a hosted database's usually does, so a
        query that forgets byte order (``COLLATE "C"``) fails the tests here too.
        """
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0"
                " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        return self.url(name)


def _as_owner(argv: list[str]) -> list[str]:
    """Run ``argv`` as ``postgres`` when we are root (the server will not run as root)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def throwaway_postgres(bin_dir: Path, *, durable: bool = False) -> Iterator[PostgresServer]:
    """Start a server in a fresh temp dir on a free port; stop it and delete it on exit.

    Args:
        bin_dir: Where ``initdb`` and ``pg_ctl`` are.
        durable: Keep ``fsync`` on (benchmarks); tests turn it off, durability is not theirs.
    """
    root = Path(tempfile.mkdtemp(prefix="devteam-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        data = root / "data"
        pwfile = root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
              "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
              f"--pwfile={pwfile}", "--no-sync"])  # fmt: skip
        server = _start(bin_dir, root, data, durable=durable)
        try:
            yield server
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start(bin_dir: Path, root: Path, data: Path, *, durable: bool) -> PostgresServer:
    """Start on a free port (again on another one if it was taken in between)."""
    settings = "" if durable else " -c fsync=off -c synchronous_commit=off"
    for attempt in range(3):
        port = _free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}{settings}"
        log = root / f"server-{attempt}.log"
        result = _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
             "-w", "-t", "60", "start"],
            check=False,
        )  # fmt: skip
        if result.returncode == 0:
            return PostgresServer(port=port, data_dir=data)
    raise RuntimeError(f"PostgreSQL did not start: {log.read_text(errors='replace')[-2000:]}")


def _run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # our own fixed command lines
        _as_owner(argv), capture_output=True, text=True, check=False, timeout=120
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {result.stderr or result.stdout}")
    return result
