"""A throwaway PostgreSQL server for the test run (Debian's binaries, a temp cluster, a free port)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb, or the directory of initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start on 127.0.0.1; as root, runs them as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.bin = find_bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="bball-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            self.as_user = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self._counter = 0
        self._connection = None

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> "PostgresServer":
        """Create the cluster and start the server; returns self."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "bball", "-E", "UTF8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-l", str(self.root / "log"),
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start")
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://bball@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        self._counter += 1
        name = f"t{os.getpid()}_{self._counter}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def replace_database(self, url: str, template: str) -> None:
        """Make the database at `url` (of this server) a copy of the one at `template`, which nobody may be using."""
        from sqlalchemy.engine import make_url

        name, source = make_url(url).database, make_url(template).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{source}"')

    def _admin(self, *statements: str) -> None:
        # One connection for the whole run: a new one costs a server process, slower than the statement.
        import psycopg

        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(f"host=127.0.0.1 port={self.port} user=bball dbname=postgres",
                                               autocommit=True)
        for statement in statements:
            self._connection.execute(statement)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        if self._connection is not None:
            self._connection.close()
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except Exception:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
