"""Bulk storage of `Detections` in `player_detections`: never one ORM object per row.

Labels are few per run ("player", or one per SAM 3 prompt), so each chunk is written as one group per
distinct label with the label bound once per statement (SQLite) or as a fixed-width field (PostgreSQL
binary COPY): a label costs no per-row Python work. Rows of a frame with several labels are therefore
stored grouped by label; `load_detections` returns them by frame, track id, then storage order.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Iterator

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..detections import DEFAULT_LABEL, LABEL_KEY, Detections, check_labels, fits_int32
from .models import PlayerDetection

_COLUMNS = ("video_id", "job_id", "cloud_job_id", "label", "frame_number", "tracking_id", "bbox_x", "bbox_y",
            "bbox_width", "bbox_height", "confidence_score")
_CONSTANTS = 4  # video_id, job_id, cloud_job_id, label: the same for every row of one statement
_BOX_COLUMNS = _COLUMNS[_CONSTANTS:]
CHUNK = 50_000
# Rows per SQLite INSERT statement: one statement of many rows costs far less per row than executemany's
# one statement execution per row, and the per-run constants are bound once per statement.
_SQLITE_ROWS_PER_STATEMENT = 2_000


def insert_detections(session: Session, video_id: int, detections: Detections, job_id: int | None = None,
                      cloud_job_id: str | None = None) -> int:
    """Append `detections` (with their labels) in the caller's transaction; returns rows written.

    COPY on PostgreSQL. A label that is not a 1..64-character string raises `ValueError` before any row.
    """
    n = len(detections)
    if n == 0:
        return 0
    conn = session.connection()
    raw = conn.connection.driver_connection
    constants = (video_id, job_id, cloud_job_id)
    if conn.dialect.name == "postgresql":
        _copy_postgresql(raw, constants, detections)
    else:
        _insert_sqlite(raw, constants, detections)
    return n


def _label_groups(detections: Detections) -> Iterator[tuple[str, Detections]]:
    """(label, boxes with that label), one group for the usual unlabelled or single-label chunk."""
    if LABEL_KEY not in detections.data:
        yield DEFAULT_LABEL, detections
        return
    labels = detections.data[LABEL_KEY]
    distinct = check_labels(labels)
    if len(distinct) == 1:
        yield str(distinct[0]), detections
        return
    for label in distinct:
        yield str(label), detections[labels == label]


def _chunks(detections: Detections) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(label, storage columns) per chunk of at most CHUNK rows and per label within it."""
    for start in range(0, len(detections), CHUNK):
        for label, part in _label_groups(detections[slice(start, start + CHUNK)]):
            yield label, part.columns()


def _copy_postgresql(raw, constants: tuple, detections: Detections) -> None:
    """Binary COPY, each chunk's rows laid out by one numpy structured array: no per-row Python work."""
    header = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
    with raw.cursor() as cur, cur.copy(
        f"COPY player_detections ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.write(header)
        for label, cols in _chunks(detections):
            copy.write(_binary_rows((*constants, label), cols))
        copy.write(b"\xff\xff")  # end of data


def _binary_rows(constants: tuple, cols: dict[str, np.ndarray]) -> bytes:
    """COPY BINARY tuples: a field count, then per field its byte length (-1 for NULL) and big-endian value.

    The types follow the schema: INTEGER columns are int4, FLOAT columns float8, cloud_job_id and label text.
    """
    video_id, job_id, cloud_job_id, label = constants
    text = cloud_job_id.encode() if cloud_job_id is not None else None
    label_bytes = label.encode()
    fields: list[tuple[str, str]] = [("count", ">i2"), ("video_id.len", ">i4"), ("video_id", ">i4"),
                                     ("job_id.len", ">i4")]
    if job_id is not None:
        fields.append(("job_id", ">i4"))
    fields.append(("cloud_job_id.len", ">i4"))
    if text:
        fields.append(("cloud_job_id", f"S{len(text)}"))
    fields += [("label.len", ">i4"), ("label", f"S{len(label_bytes)}")]
    for name in _BOX_COLUMNS:
        kind = ">i4" if name in ("frame_number", "tracking_id") else ">f8"
        fields += [(f"{name}.len", ">i4"), (name, kind)]
    rows = np.empty(len(cols["frame_number"]), dtype=np.dtype(fields))
    rows["count"] = len(_COLUMNS)
    rows["video_id.len"], rows["video_id"] = 4, video_id
    rows["job_id.len"] = -1 if job_id is None else 4
    if job_id is not None:
        rows["job_id"] = job_id
    rows["cloud_job_id.len"] = -1 if text is None else len(text)
    if text:
        rows["cloud_job_id"] = text
    rows["label.len"], rows["label"] = len(label_bytes), label_bytes
    for name in _BOX_COLUMNS:
        values = cols[name]
        # numpy would wrap an out-of-range integer silently; PostgreSQL's text COPY would have refused it.
        if name in ("frame_number", "tracking_id") and not fits_int32(values):
            raise ValueError(f"{name} does not fit the INTEGER column")
        rows[f"{name}.len"] = rows.dtype[name].itemsize
        rows[name] = values
    return rows.tobytes()


def _insert_sqlite(raw, constants: tuple, detections: Detections) -> None:
    import sqlite3

    # Numbered parameters: ?1..?4 are the constants (label included), each row binds only its own seven
    # values, taken from one row-major flat list so no per-row tuple is built in Python.
    width = len(_BOX_COLUMNS)
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(_SQLITE_ROWS_PER_STATEMENT, (limit - _CONSTANTS) // width))
    cur = raw.cursor()
    try:
        for label, cols in _chunks(detections):
            head = [*constants, label]
            n = len(cols["frame_number"])
            grid = np.empty((n, width), dtype=object)
            for k, name in enumerate(_BOX_COLUMNS):
                grid[:, k] = cols[name].tolist()
            flat = grid.ravel().tolist()
            for start in range(0, n, per_statement):
                rows = min(per_statement, n - start)
                cur.execute(_sqlite_statement(rows, _CONSTANTS, width),
                            head + flat[start * width:(start + rows) * width])
    finally:
        cur.close()


@lru_cache(maxsize=8)
def _sqlite_statement(rows: int, constants: int, width: int) -> str:
    fixed = ",".join(f"?{i + 1}" for i in range(constants))
    values = ",".join(
        f"({fixed}," + ",".join(f"?{constants + 1 + r * width + k}" for k in range(width)) + ")"
        for r in range(rows)
    )
    return f"INSERT INTO player_detections ({', '.join(_COLUMNS)}) VALUES {values}"


def load_detections(session: Session, video_id: int, job_id: int | None = None,
                    cloud_job_id: str | None = None) -> Detections:
    """Every stored box of a video (optionally of one job) with its label, ordered by frame then track id."""
    t = PlayerDetection.__table__
    q = select(t.c.frame_number, t.c.tracking_id, t.c.bbox_x, t.c.bbox_y, t.c.bbox_width, t.c.bbox_height,
               t.c.confidence_score, t.c.label).where(t.c.video_id == video_id)
    if job_id is not None:
        q = q.where(t.c.job_id == job_id)
    if cloud_job_id is not None:
        q = q.where(t.c.cloud_job_id == cloud_job_id)
    rows = session.execute(q.order_by(t.c.frame_number, t.c.tracking_id, t.c.id)).all()
    if not rows:
        return Detections.empty()
    columns = list(zip(*rows))
    arr = np.array(columns[:7], dtype=np.float64)
    det = Detections.from_xywh(arr[0].astype(np.int64), arr[1].astype(np.int64), arr[2], arr[3], arr[4],
                               arr[5], arr[6])
    return det.with_labels(np.array(columns[7], dtype=object))


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
