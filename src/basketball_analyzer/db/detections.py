"""Bulk storage of `Detections` in `player_detections`: never one ORM object per row."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..detections import Detections
from .models import PlayerDetection

_COLUMNS = ("video_id", "job_id", "cloud_job_id", "frame_number", "tracking_id", "bbox_x", "bbox_y",
            "bbox_width", "bbox_height", "confidence_score")
CHUNK = 50_000


def insert_detections(session: Session, video_id: int, detections: Detections, job_id: int | None = None,
                      cloud_job_id: str | None = None) -> int:
    """Append `detections` in the caller's transaction; returns rows written. COPY on PostgreSQL."""
    n = len(detections)
    if n == 0:
        return 0
    conn = session.connection()
    dialect = conn.dialect.name
    for start in range(0, n, CHUNK):
        part = detections[slice(start, start + CHUNK)]
        cols = part.columns()
        rows = zip(*(
            [video_id] * len(part), [job_id] * len(part), [cloud_job_id] * len(part),
            *(cols[c].tolist() for c in _COLUMNS[3:])
        ))
        if dialect == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                f"COPY player_detections ({', '.join(_COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in _COLUMNS)
            conn.exec_driver_sql(
                f"INSERT INTO player_detections ({', '.join(_COLUMNS)}) VALUES ({placeholders})", list(rows)
            )
    return n


def load_detections(session: Session, video_id: int, job_id: int | None = None,
                    cloud_job_id: str | None = None) -> Detections:
    """Every stored box of a video (optionally of one job), ordered by frame then track id."""
    t = PlayerDetection.__table__
    q = select(t.c.frame_number, t.c.tracking_id, t.c.bbox_x, t.c.bbox_y, t.c.bbox_width, t.c.bbox_height,
               t.c.confidence_score).where(t.c.video_id == video_id)
    if job_id is not None:
        q = q.where(t.c.job_id == job_id)
    if cloud_job_id is not None:
        q = q.where(t.c.cloud_job_id == cloud_job_id)
    rows = session.execute(q.order_by(t.c.frame_number, t.c.tracking_id)).all()
    if not rows:
        return Detections.empty()
    arr = np.array(rows, dtype=np.float64)
    return Detections.from_xywh(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2], arr[:, 3],
                                arr[:, 4], arr[:, 5], arr[:, 6])


def iter_frames_detections(session: Session, video_id: int) -> Iterator[Detections]:
    """Stored boxes grouped by frame, in frame order."""
    det = load_detections(session, video_id)
    if not len(det):
        return
    bounds = np.flatnonzero(np.diff(det.frame_number)) + 1
    start = 0
    for end in [*bounds.tolist(), len(det)]:
        yield det[slice(start, end)]
        start = end


def count_detections(session: Session, video_id: int | None = None, cloud_job_id: str | None = None) -> int:
    """Stored boxes, of one video and/or one cloud job."""
    t = PlayerDetection.__table__
    q = select(func.count()).select_from(t)
    if video_id is not None:
        q = q.where(t.c.video_id == video_id)
    if cloud_job_id is not None:
        q = q.where(t.c.cloud_job_id == cloud_job_id)
    return int(session.execute(q).scalar_one())


def replace_detections(session: Session, video_id: int, detections: Detections | Iterable[Detections],
                       job_id: int | None = None, cloud_job_id: str | None = None) -> int:
    """Make `detections` the video's stored result: earlier runs' boxes of this video are removed first.

    `player_detections` holds one result per video (the newest), so counts per video mean one run.
    `detections` may be one `Detections` or an iterable of batches (a streamed results file).
    """
    delete_detections(session, video_id=video_id)
    if isinstance(detections, Detections):
        detections = (detections,)
    return sum(insert_detections(session, video_id, part, job_id=job_id, cloud_job_id=cloud_job_id)
               for part in detections)


def delete_detections(session: Session, video_id: int | None = None, job_id: int | None = None,
                      cloud_job_id: str | None = None) -> int:
    """Remove the boxes of a job (local or cloud) or video; returns rows removed."""
    t = PlayerDetection.__table__
    q = delete(t)
    if video_id is not None:
        q = q.where(t.c.video_id == video_id)
    if job_id is not None:
        q = q.where(t.c.job_id == job_id)
    if cloud_job_id is not None:
        q = q.where(t.c.cloud_job_id == cloud_job_id)
    return session.execute(q).rowcount or 0
