"""Schema, migrations and detection storage on SQLite and PostgreSQL."""

import numpy as np
from sqlalchemy import inspect, text

from basketball_analyzer.db import get_engine, transaction
from basketball_analyzer.db.detections import (count_detections, insert_detections, load_detections,
                                               replace_detections)
from basketball_analyzer.detections import Detections
from basketball_analyzer.videos import register_video


def test_migrations_create_the_public_tables_and_indexes(db_url):
    insp = inspect(get_engine(db_url))
    tables = set(insp.get_table_names())
    assert {"videos", "detection_jobs", "player_detections", "cloud_imports", "alembic_version"} <= tables
    cols = {c["name"] for c in insp.get_columns("player_detections")}
    assert {"video_id", "job_id", "frame_number", "tracking_id", "bbox_x", "bbox_y", "bbox_width",
            "bbox_height", "confidence_score"} <= cols
    indexed = {tuple(i["column_names"]) for i in insp.get_indexes("player_detections")}
    assert ("video_id", "frame_number") in indexed
    vcols = {c["name"] for c in insp.get_columns("videos")}
    assert {"path", "file_name", "size_bytes", "sha256", "fps", "frame_count", "width", "height", "duration",
            "created_at"} <= vcols


def test_migrating_twice_is_a_no_op(db_url):
    from basketball_analyzer.db.engine import migrate

    engine = get_engine(db_url)
    migrate(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar_one() == 1


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar_one().lower() == "wal"


def _video(s, sample_clip):
    return register_video(s, sample_clip[0]).video.id


def test_bulk_insert_and_load_round_trip(db_url, sample_clip):
    rng = np.random.default_rng(0)
    n = 1234
    xy = rng.uniform(0, 500, (n, 2)).astype(np.float32)
    det = Detections(np.hstack([xy, xy + rng.uniform(1, 50, (n, 2)).astype(np.float32)]),
                     rng.uniform(0, 1, n), rng.integers(0, 10, n), np.sort(rng.integers(0, 40, n)))
    with transaction(db_url) as s:
        vid = _video(s, sample_clip)
        assert insert_detections(s, vid, det) == n
    with transaction(db_url) as s:
        assert count_detections(s, video_id=vid) == n
        back = load_detections(s, vid)
    def canon(d):  # rows sorted fully, since several boxes may share a frame and a track id
        rows = np.column_stack([d.frame_number, d.tracker_id, d.xyxy, d.confidence]).astype(np.float64)
        return rows[np.lexsort(rows.T[::-1])]

    np.testing.assert_allclose(canon(back), canon(det), rtol=1e-5, atol=1e-3)
    with get_engine(db_url).connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM player_detections WHERE video_id=:v"), {"v": vid}).scalar() == n


def test_replace_keeps_one_result_per_video(db_url, sample_clip):
    d1 = Detections.for_frame(0, [[0, 0, 10, 10]] * 5, [0.9] * 5, range(5))
    d2 = Detections.for_frame(1, [[0, 0, 10, 10]] * 3, [0.9] * 3, range(3))
    with transaction(db_url) as s:
        vid = _video(s, sample_clip)
        replace_detections(s, vid, d1)
    with transaction(db_url) as s:
        replace_detections(s, vid, d2)
    with transaction(db_url) as s:
        assert count_detections(s, video_id=vid) == 3


def test_a_failed_transaction_writes_nothing(db_url, sample_clip):
    import pytest

    with pytest.raises(RuntimeError):
        with transaction(db_url) as s:
            vid = _video(s, sample_clip)
            insert_detections(s, vid, Detections.for_frame(0, [[0, 0, 1, 1]], [1.0], [1]))
            raise RuntimeError("boom")
    with transaction(db_url) as s:
        assert count_detections(s) == 0
        assert s.execute(text("SELECT COUNT(*) FROM videos")).scalar_one() == 0


def test_migration_0002_labels_existing_rows_player(tmp_path, sample_clip):
    """A database made before labels existed: its rows become "player" and new rows keep their label."""
    from alembic import command
    from alembic.config import Config

    from basketball_analyzer.db.engine import _MIGRATIONS, _create, migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _create(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO videos (id, path, file_name, size_bytes, sha256, fps, frame_count, width, "
                          "height, duration, created_at) VALUES (1, 'a', 'a', 1, 'x', 30, 10, 4, 4, 1, "
                          "'2026-01-01')"))
        conn.execute(text("INSERT INTO player_detections (video_id, frame_number, tracking_id, bbox_x, bbox_y, "
                          "bbox_width, bbox_height, confidence_score) VALUES (1, 0, 1, 0, 0, 1, 1, 0.5)"))
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT label FROM player_detections")).scalars().all() == ["player"]
        cols = {c["name"]: c for c in inspect(conn).get_columns("player_detections")}
        assert cols["label"]["nullable"] is False
    engine.dispose()


def test_label_column_on_both_databases(db_url):
    insp = inspect(get_engine(db_url))
    cols = {c["name"]: c for c in insp.get_columns("player_detections")}
    assert cols["label"]["nullable"] is False and cols["label"]["type"].length == 64
    with get_engine(db_url).begin() as c:  # the server default fills rows written without a label
        vid = c.execute(text("INSERT INTO videos (path, file_name, size_bytes, sha256, fps, frame_count, width, "
                             "height, duration, created_at) VALUES ('a', 'a', 1, 'x', 30, 10, 4, 4, 1, "
                             "'2026-01-01') RETURNING id")).scalar_one()
        c.execute(text("INSERT INTO player_detections (video_id, frame_number, tracking_id, bbox_x, bbox_y, "
                       "bbox_width, bbox_height, confidence_score) VALUES (:v, 0, 1, 0, 0, 1, 1, 0.5)"), {"v": vid})
        assert c.execute(text("SELECT label FROM player_detections")).scalar_one() == "player"
