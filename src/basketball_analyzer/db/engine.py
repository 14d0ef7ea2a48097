"""Engines and sessions: SQLite (WAL) or PostgreSQL from DATABASE_URL, migrated to head on first use.

A transaction either writes (SQLite: `BEGIN IMMEDIATE`, the write lock up front) or only reads
(`readonly=True`: SQLite `BEGIN` DEFERRED with `query_only`, PostgreSQL `READ ONLY`). In WAL mode readers
never wait for each other nor for the one writer, so a slow read (a long game's stats) holds up nobody.
"""

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
_readers: dict[str, Engine] = {}  # the same engines with READONLY set, for read-only transactions
READONLY = "bball_readonly"
"""Execution option marking a connection's transactions read-only (see `transaction(readonly=True)`)."""
# SQLite connections are cheap; allow one per worker thread of the web app (AnyIO runs sync routes on
# 40 threads), so concurrent reads never queue for a pooled connection.
_SQLITE_POOL = {"pool_size": 10, "max_overflow": 30}


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


def _begin_sqlite(conn) -> None:
    # Writers take the write lock when the transaction starts, so read-then-write (a job claim) cannot hit
    # SQLITE_BUSY_SNAPSHOT; other writers wait up to busy_timeout. Readers begin DEFERRED: in WAL mode they
    # take no lock that anyone waits on, and query_only turns an accidental write into an error.
    readonly = bool(conn.get_execution_options().get(READONLY))
    conn.exec_driver_sql(f"PRAGMA query_only={'ON' if readonly else 'OFF'}")
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _begin_other(conn) -> None:
    # psycopg begins implicitly before the first statement, so this is the transaction's first statement.
    if conn.get_execution_options().get(READONLY):
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def get_engine(url: str | None = None, readonly: bool = False) -> Engine:
    """A cached engine for `url` (default: settings' DATABASE_URL), schema migrated to the newest revision.

    `readonly=True`: the same engine and pool, whose transactions only read (see `transaction`)."""
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
            _readers[url] = engine.execution_options(**{READONLY: True})
        return _readers[url] if readonly else engine


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
        pool = _SQLITE_POOL if parsed.database and parsed.database != ":memory:" else {}
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except Exception as exc:
        raise ConfigError(f"cannot use DATABASE_URL {make_safe(url)}: {exc}") from None
    event.listen(engine, "begin", _begin_other)
    return engine


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


def session_factory(url: str | None = None, readonly: bool = False) -> sessionmaker[Session]:
    """Sessions bound to `get_engine(url, readonly)`."""
    return sessionmaker(get_engine(url, readonly), expire_on_commit=False)


@contextmanager
def transaction(url: str | None = None, readonly: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception.

    `readonly=True` for work that only reads: it never waits for other readers or the writer (SQLite WAL),
    and a write inside it fails ("attempt to write a readonly database" / "read-only transaction")."""
    with session_factory(url, readonly)() as session, session.begin():
        yield session


def dispose_all() -> None:
    """Close every cached engine (tests, forked workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _readers.clear()


def dispose(url: str) -> None:
    """Close and forget the cached engine for `url`."""
    with _lock:
        engine = _engines.pop(_normalise(url), None)
        _readers.pop(_normalise(url), None)
    if engine is not None:
        engine.dispose()
