"""What is known of the run whose boxes a video holds: above all its sampling, so every stored frame counts
for the video frames it stands for.

A run with `sample_interval` N stores every N-th frame; each stored frame then stands for N video frames
(N / fps seconds). The interval is recorded with the boxes: in the results file's metadata, and in the
database as the local job's parameters (`detection_jobs.parameters`) or the cloud import's
(`cloud_imports.parameters`, migration 0005). Boxes stored before that, or by hand, have no record; for
them the interval is read off the frame numbers (`sample_stride`), the guess every reader used to make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import CloudImport, DetectionJob, PlayerDetection


@dataclass(frozen=True)
class StoredRun:
    """The run behind a video's stored boxes: its sample interval and where that was learnt."""

    sample_interval: int
    source: str  # "job 12", "cloud job 01J…", or "frame numbers" (no record: guessed)

    @property
    def recorded(self) -> bool:
        """True when the interval was recorded with the run, not guessed from its frame numbers."""
        return self.source != "frame numbers"

    def frame_seconds(self, fps: float) -> float:
        """Seconds of video one stored frame stands for."""
        return self.sample_interval / (fps or 30.0)


def interval_of(parameters: Any) -> int | None:
    """The `sample_interval` of stored run parameters, or None when they hold no usable one."""
    value = parameters.get("sample_interval") if isinstance(parameters, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def stored_run(session: Session, video_id: int) -> StoredRun:
    """The run whose boxes video `video_id` holds now (one result per video); guessed when unrecorded."""
    t = PlayerDetection.__table__
    row = session.execute(select(t.c.job_id, t.c.cloud_job_id).where(t.c.video_id == video_id).limit(1)).first()
    if row is not None and row.job_id is not None:
        job = session.get(DetectionJob, row.job_id)
        interval = interval_of(job.parameters) if job is not None else None
        if interval is not None:
            return StoredRun(interval, f"job {row.job_id}")
    elif row is not None and row.cloud_job_id is not None:
        entry = session.execute(select(CloudImport.parameters)
                                .where(CloudImport.cloud_job_id == row.cloud_job_id)).scalar_one_or_none()
        interval = interval_of(entry)
        if interval is not None:
            return StoredRun(interval, f"cloud job {row.cloud_job_id}")
    frames = session.execute(select(t.c.frame_number).where(t.c.video_id == video_id).distinct()).scalars()
    return StoredRun(sample_stride(np.fromiter(frames, np.int64)), "frame numbers")


def sample_stride(frame_numbers: np.ndarray, frame_count: int | None = None) -> int:
    """The sample interval as seen in stored frame numbers (sampled frames are its multiples).

    The gcd of the frame numbers, trusted only when at least 4 frames have boxes and they cover at least half
    of the frames it implies; otherwise 1, so sparse boxes are never stretched over frames nobody looked at.
    """
    frames = np.unique(np.asarray(frame_numbers, np.int64))
    nonzero = frames[frames > 0]
    if len(nonzero) == 0:
        return 1
    stride = int(np.gcd.reduce(nonzero))
    if stride <= 1 or len(frames) < 4:
        return 1
    span = (frame_count if frame_count else int(frames.max()) + 1)
    return stride if len(frames) >= 0.5 * math.ceil(span / stride) else 1
