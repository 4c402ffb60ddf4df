"""A throwaway PostgreSQL cluster with PostGIS for the tests: created, started, and removed.

Runs the cluster as the ``postgres`` user when the tests run as root (``initdb`` refuses
root), on a free loopback port with password authentication, so tests can also try a
wrong password. Debian's ``postgresql`` and ``postgresql-15-postgis-3`` must be installed
(``make test`` installs them).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Cluster", "cluster"]


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        msg = f"PostgreSQL's {name} is not installed: run `make test` (it installs postgresql)"
        raise RuntimeError(msg)
    return str(found[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A running cluster: `url(db)` gives a connection URL, `new_database()` a fresh store DB."""

    def __init__(self, port: int, password: str) -> None:
        self.port = port
        self.password = password
        self._n = 0

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        return f"postgresql://postgres:{password or self.password}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def new_database(self) -> str:
        """Create an empty database with PostGIS from the template; return its URL."""
        self._n += 1
        name = f"atlas_{os.getpid()}_{self._n}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE atlas_template")
        return self.url(name)


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def cluster() -> Iterator[Cluster]:
    """Create, start, yield, then stop and remove a PostgreSQL cluster."""
    folder = Path(tempfile.mkdtemp(prefix="va-pg-"))
    data, log = folder / "data", folder / "log"
    password = secrets.token_hex(8)
    (folder / "pw").write_text(password)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(folder / "pw", "postgres", "postgres")
    port = _free_port()
    try:
        subprocess.run(
            _as_postgres(
                [
                    _bin("initdb"),
                    "-D", str(data),
                    "-U", "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={folder / 'pw'}",
                    "-E", "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        found = Cluster(port, password)
        for _ in range(50):
            try:
                found.sql("SELECT 1")
                break
            except Exception:  # noqa: BLE001 (still starting)
                time.sleep(0.1)
        found.sql("CREATE DATABASE atlas_template")
        found.sql("CREATE EXTENSION postgis", "atlas_template")
        yield found
    finally:
        subprocess.run(
            _as_postgres([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
