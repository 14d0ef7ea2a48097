"""Databases built once per run and copied into each test's own database, so a costly setup (a video registered
with its boxes, teams and a court calibration) is paid once per backend, not once per test, and every test still
starts from its own copy it may change at will.

SQLite copies with SQLite's backup API; PostgreSQL recreates the test's database from the snapshot as a template
(`CREATE DATABASE ... TEMPLATE`, a file-level copy on the server).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import make_url


class Snapshots:
    """snapshots.restore(key, url, build) -> build's value: `url` now holds what `build(snapshot_url)` wrote.

    `build` runs once per (key, backend) in a run, on an empty database of its own; what it returns (ids, truth)
    must not depend on the URL."""

    def __init__(self, folder: Path, postgres: Callable[[], Any]) -> None:
        self._folder = folder
        self._postgres = postgres
        self._made: dict[tuple[str, str], tuple[str, Any]] = {}

    def restore(self, key: str, url: str, build: Callable[[str], Any]) -> Any:
        """Make the database at `url` a copy of snapshot `key` (built on first use); returns build's value."""
        from basketball_analyzer.db.engine import dispose

        backend = make_url(url).get_backend_name()
        if (key, backend) not in self._made:
            source = self._new_database(backend, key)
            value = build(source)
            dispose(source)  # a template must have no open connections; SQLite's WAL is checkpointed on close
            self._made[key, backend] = (source, value)
        source, value = self._made[key, backend]
        dispose(url)  # a fixture may have opened the test's database already
        if backend == "sqlite":
            _sqlite_copy(make_url(source).database, make_url(url).database)
        else:
            self._postgres().replace_database(url, template=source)
        return value

    def _new_database(self, backend: str, key: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self._folder / f'{key}.db'}"
        return self._postgres().create_database()


def _sqlite_copy(source: str, target: str) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
