"""Engines and sessions: SQLite (WAL) or PostgreSQL from DATABASE_URL, migrated to head on first use."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..exceptions import ConfigError

_MIGRATIONS = Path(__file__).parent / "migrations"
_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def _normalise(url: str) -> str:
    # "postgresql://" means psycopg 3 here: it is the driver we install.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the "begin" listener).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """A cached engine for `url` (default: settings' DATABASE_URL), schema migrated to the newest revision."""
    if url is None:
        from ..config import get_settings

        url = get_settings().database_url
    url = _normalise(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            migrate(engine)
            _engines[url] = engine
        return engine


def _create(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"invalid DATABASE_URL: {make_safe(url)}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            parent = Path(parsed.database).expanduser().resolve().parent
            if not parent.is_dir():
                raise ConfigError(f"database directory does not exist: {parent}")
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Take the write lock when a transaction starts, so read-then-write (a job claim) cannot hit
        # SQLITE_BUSY_SNAPSHOT; other connections wait up to busy_timeout.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:
        raise ConfigError(f"cannot use DATABASE_URL {make_safe(url)}: {exc}") from None


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise ConfigError(f"cannot open database {make_safe(str(engine.url))}: {exc.orig}") from None


def make_safe(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """Sessions bound to `get_engine(url)`."""
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with session_factory(url)() as session, session.begin():
        yield session


def dispose_all() -> None:
    """Close every cached engine (tests, forked workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def dispose(url: str) -> None:
    """Close and forget the cached engine for `url`."""
    with _lock:
        engine = _engines.pop(_normalise(url), None)
    if engine is not None:
        engine.dispose()
