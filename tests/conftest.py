"""Fixtures every test may use: an isolated environment, database URLs (SQLite and PostgreSQL), sample clips."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from basketball_analyzer.config import get_settings  # noqa: E402
from basketball_analyzer.db import engine as db_engine  # noqa: E402

_ENV_TO_CLEAR = ("DATABASE_URL", "R2_ACCOUNT_ID", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_BUCKET_NAME",
                 "R2_ENDPOINT_URL", "DETECTOR", "WORKER_ID", "SINGLE_JOB", "CLOUD_MODEL_PATH",
                 "USE_EXTERNAL_WORKER", "LOG_FORMAT", "SAM3_DEVICE", "SAM3_DTYPE", "SAM3_MASKS", "SAM3_MAX_OBJECTS",
                 "SAM3_CROSS_PROMPT_IOU", "WEB_TOKEN", "WEB_MAX_UPLOAD_MB", "WEB_UPLOAD_DIR",
                 "CLOUD_WORKER_POLL_INTERVAL", "CLOUD_LEASE_SECONDS", "CLOUD_MAX_ATTEMPTS",
                 "CLOUD_PART_FRAMES")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Each test starts with no project settings from the outside and its own SQLite file as DATABASE_URL."""
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


_pg_state: dict = {}


def _postgres():
    if "server" not in _pg_state and "error" not in _pg_state:
        from pg_server import PostgresServer

        try:
            _pg_state["server"] = PostgresServer().start()
        except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
            _pg_state["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return _pg_state.get("server")


def pytest_sessionfinish(session, exitstatus):
    server = _pg_state.get("server")
    if server is not None:
        db_engine.dispose_all()
        server.stop()


def pytest_report_header(config):
    return "database tests run on SQLite and on a PostgreSQL server the run starts (tests/pg_server.py)"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, monkeypatch):
    """A fresh, empty database URL: a SQLite file, then a new database on the test PostgreSQL server.

    Also set as DATABASE_URL, so CLI commands in the test use it.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bball.db'}"
    else:
        server = _postgres()
        if server is None:
            pytest.skip(f"PostgreSQL not available here ({_pg_state['error']}); ran on SQLite only")
        url = server.create_database()
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    db_engine.dispose(url)


@pytest.fixture(scope="session")
def db_snapshots(tmp_path_factory):
    """Costly database setups made once per run and backend, copied into a test's `db_url` (support/snapshots.py)."""
    from support.snapshots import Snapshots

    return Snapshots(tmp_path_factory.mktemp("snapshots"), _postgres)


@pytest.fixture(scope="session")
def sample_clip(tmp_path_factory):
    """(path, ground truth) of a 40-frame 640x360 clip with three drawn players."""
    from basketball_analyzer.sample import make_sample_clip

    path = tmp_path_factory.mktemp("clips") / "court.mp4"
    truth = make_sample_clip(path, frames=40, players=3)
    return path, truth
