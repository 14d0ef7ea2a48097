"""Read-only transactions: on a SQLite file a long read holds up neither other reads nor the writer, and a
read-only transaction cannot write (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from basketball_analyzer.db import Video, transaction
from basketball_analyzer.db.engine import dispose

WAIT = 5.0  # seconds a step may take; SQLite's busy timeout is 30 s, so a step that waits for a lock fails


def _add_video(s, n: int) -> None:
    s.add(Video(path=f"/clips/{n}.mp4", file_name=f"{n}.mp4", size_bytes=1, sha256=f"{n:064d}", fps=30.0,
                frame_count=10, width=64, height=48, duration=0.33))


def _in_thread(fn) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        t0 = time.monotonic()
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc
        out["seconds"] = time.monotonic() - t0

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with transaction(url) as s:
        _add_video(s, 1)
    yield url
    dispose(url)


def test_a_long_read_blocks_neither_other_reads_nor_the_writer(sqlite_url):
    holding, release = threading.Event(), threading.Event()

    def long_read():
        with transaction(sqlite_url, readonly=True) as s:
            before = s.execute(select(func.count()).select_from(Video)).scalar_one()
            holding.set()
            release.wait(60)  # a /stats on a long game, still reading
            after = s.execute(select(func.count()).select_from(Video)).scalar_one()
        return before, after

    def short_read():
        with transaction(sqlite_url, readonly=True) as s:
            return s.execute(select(func.count()).select_from(Video)).scalar_one()

    def write():
        with transaction(sqlite_url) as s:
            _add_video(s, 2)

    long_thread, long_out = _in_thread(long_read)
    try:
        assert holding.wait(WAIT)
        readers = [_in_thread(short_read) for _ in range(4)]
        for thread, _ in readers:
            thread.join(WAIT)
        assert all(out.get("value") == 1 for _, out in readers), [out for _, out in readers]
        writer, write_out = _in_thread(write)
        writer.join(WAIT)
        assert not writer.is_alive() and "error" not in write_out, write_out
        assert short_read() == 2  # committed while the long read was open
    finally:
        release.set()
        long_thread.join(WAIT)
    # The long read kept its snapshot: the row added meanwhile is not half-visible inside it.
    assert long_out.get("value") == (1, 1), long_out


def test_writers_still_take_the_write_lock_when_they_begin(sqlite_url):
    """A read-then-write (a job claim) cannot lose its snapshot: a second writer waits for the first."""
    holding, release = threading.Event(), threading.Event()

    def first_writer():
        with transaction(sqlite_url) as s:
            s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE happens here
            holding.set()
            release.wait(60)

    thread, _ = _in_thread(first_writer)
    assert holding.wait(WAIT)
    second, out = _in_thread(lambda: _write_one(sqlite_url))
    second.join(1.0)
    assert second.is_alive()  # waiting for the write lock, not failing with SQLITE_BUSY_SNAPSHOT later
    release.set()
    thread.join(WAIT)
    second.join(WAIT)
    assert "error" not in out, out


def _write_one(url: str) -> None:
    with transaction(url) as s:
        _add_video(s, 3)


def test_a_read_only_transaction_cannot_write(db_url):
    with transaction(db_url) as s:
        _add_video(s, 1)
    with pytest.raises(DBAPIError, match="read-?only"):
        with transaction(db_url, readonly=True) as s:
            s.execute(text("DELETE FROM videos"))
    with transaction(db_url, readonly=True) as s:
        assert s.execute(select(func.count()).select_from(Video)).scalar_one() == 1
    with transaction(db_url) as s:  # the pooled connection writes again in a writing transaction
        _add_video(s, 2)
    with transaction(db_url, readonly=True) as s:
        assert s.execute(select(func.count()).select_from(Video)).scalar_one() == 2
