"""Bulk storage of detections: exact round trip on SQLite and PostgreSQL, in few statements, never per row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from basketball_analyzer.db import detections as dbdet
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import (
    count_detections,
    insert_detections,
    load_detections,
    replace_detections,
)
from basketball_analyzer.detections import Detections
from basketball_analyzer.videos import register_video

ROOT = Path(__file__).resolve().parents[2]


def game(rows: int, first_frame: int = 0, players: int = 10) -> Detections:
    """Boxes with exactly representable float32 coordinates, so the round trip can be compared exactly."""
    i = np.arange(rows)
    return Detections.from_xywh(first_frame + i // players, i % players, (i * 7) % 1800 + 0.25,
                                (i * 3) % 1000 + 0.5, 40 + i % 50, 90 + i % 30, (1 + i % 63) / 64)


@pytest.fixture
def video_id(db_url, sample_clip):
    with transaction(db_url) as s:
        return register_video(s, sample_clip[0]).video.id


def assert_same(got: Detections, want: Detections) -> None:
    for name, column in want.columns().items():
        np.testing.assert_array_equal(got.columns()[name], column, err_msg=name)


@pytest.mark.parametrize("rows", [1, 1_999, 2_001, dbdet.CHUNK + 7])
def test_round_trip_across_statement_and_chunk_boundaries(db_url, video_id, rows):
    det = game(rows)
    with transaction(db_url) as s:
        assert insert_detections(s, video_id, det, cloud_job_id="job-x") == rows
    with transaction(db_url) as s:
        assert_same(load_detections(s, video_id), det)
        assert count_detections(s, video_id, cloud_job_id="job-x") == rows
        assert count_detections(s, video_id, cloud_job_id="other") == 0


def test_local_job_id_is_stored_with_every_row(db_url, video_id):
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.jobs import create_job

    with transaction(db_url) as s:
        job = create_job(s, video_id, DetectionParams(detector="hog"))
        insert_detections(s, video_id, game(30), job_id=job.id)
        job_id = job.id
    with transaction(db_url) as s:
        assert len(load_detections(s, video_id, job_id=job_id)) == 30
        assert len(load_detections(s, video_id, job_id=job_id + 1)) == 0


def test_empty_detections_write_nothing(db_url, video_id):
    with transaction(db_url) as s:
        assert insert_detections(s, video_id, Detections.empty()) == 0
        assert count_detections(s, video_id) == 0


def test_replace_accepts_a_stream_of_batches(db_url, video_id):
    with transaction(db_url) as s:
        insert_detections(s, video_id, game(50))
    batches = [game(20), Detections.empty(), game(15, first_frame=2)]
    with transaction(db_url) as s:
        assert replace_detections(s, video_id, iter(batches), cloud_job_id="c") == 35
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 35


def test_failure_mid_insert_rolls_everything_back(db_url, video_id):
    with transaction(db_url) as s:
        insert_detections(s, video_id, game(10))

    def batches():
        yield game(3_000)
        raise RuntimeError("results stream broke")

    with pytest.raises(RuntimeError), transaction(db_url) as s:
        replace_detections(s, video_id, batches())
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 10


def test_sqlite_uses_few_statements_not_one_per_row(tmp_path, sample_clip):
    url = f"sqlite:///{tmp_path / 'count.db'}"
    with transaction(url) as s:
        vid = register_video(s, sample_clip[0]).video.id
    statements = []
    with transaction(url) as s:
        raw = s.connection().connection.driver_connection
        raw.set_trace_callback(statements.append)
        try:
            insert_detections(s, vid, game(10_000))
        finally:
            raw.set_trace_callback(None)
    inserts = [q for q in statements if q.lstrip().upper().startswith("INSERT")]
    assert 1 <= len(inserts) <= 5


def test_sqlite_with_a_low_variable_limit(tmp_path, sample_clip):
    """Older SQLite builds allow only 999 bound variables per statement; rows per statement adapt."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'limit.db'}"
    with transaction(url) as s:
        vid = register_video(s, sample_clip[0]).video.id
    det = game(1_000)
    with transaction(url) as s:
        raw = s.connection().connection.driver_connection
        old = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        try:
            insert_detections(s, vid, det)
        finally:
            raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)
    with transaction(url) as s:
        assert_same(load_detections(s, vid), det)


@pytest.mark.parametrize("script", ["db_bulk_insert.py", "import_results.py"])
def test_benchmarks_run_and_report_both_sides(script):
    """The benchmarks at a tiny size print both rates and the ratio (the ratio itself needs full size)."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--rows", "3000",
                           "--naive-rows", "300"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    out = proc.stdout
    assert "bulk :      3,000" in out and "naive:        300" in out
    assert "ratio:" in out and "x faster" in out


def labelled(rows: int) -> Detections:
    """A game whose boxes carry three labels, interleaved within frames (as SAM 3 prompts give them)."""
    names = np.array(["player", "referee", "ball"], dtype=object)
    return game(rows).with_labels(names[np.arange(rows) % 3])


@pytest.mark.parametrize("rows", [3, dbdet.CHUNK + 5])
def test_labels_round_trip(db_url, video_id, rows):
    det = labelled(rows)
    with transaction(db_url) as s:
        assert insert_detections(s, video_id, det) == rows
    with transaction(db_url) as s:
        back = load_detections(s, video_id)
    # Stored grouped by label: compare as sets of (frame, track, label) rows, which are unique here.
    want = sorted(zip(det.frame_number.tolist(), det.tracker_id.tolist(), det.labels.tolist()))
    got = sorted(zip(back.frame_number.tolist(), back.tracker_id.tolist(), back.labels.tolist()))
    assert got == want


def test_unlabelled_boxes_are_stored_as_player(db_url, video_id):
    from sqlalchemy import text

    with transaction(db_url) as s:
        insert_detections(s, video_id, game(5))
    with transaction(db_url) as s:
        assert load_detections(s, video_id).labels.tolist() == ["player"] * 5
        assert s.execute(text("SELECT DISTINCT label FROM player_detections")).scalars().all() == ["player"]


@pytest.mark.parametrize("label", ["", "x" * 65, 7])
def test_a_bad_label_stores_nothing(db_url, video_id, label):
    det = game(4).with_labels(np.array(["player", "player", label, "player"], dtype=object))
    with pytest.raises(ValueError, match="label"), transaction(db_url) as s:
        insert_detections(s, video_id, det)
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 0


def test_sqlite_labels_add_no_statements(tmp_path, sample_clip):
    """Three labels: each chunk's rows go out in one group per label, not one statement per row."""
    url = f"sqlite:///{tmp_path / 'count.db'}"
    with transaction(url) as s:
        vid = register_video(s, sample_clip[0]).video.id
    statements = []
    with transaction(url) as s:
        raw = s.connection().connection.driver_connection
        raw.set_trace_callback(statements.append)
        try:
            insert_detections(s, vid, labelled(9_000))
        finally:
            raw.set_trace_callback(None)
    assert 3 <= len([q for q in statements if q.lstrip().upper().startswith("INSERT")]) <= 9
