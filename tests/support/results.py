"""Results files for tests: boxes with exactly representable coordinates, written as a run would."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from basketball_analyzer.db import CloudImport, transaction
from basketball_analyzer.detections import Detections
from basketball_analyzer.results.format import ResultsWriter


def boxes(frames: int = 40, players: int = 3, width: float = 30.0) -> Detections:
    """Boxes on every frame with exactly representable coordinates."""
    n = frames * players
    return Detections.from_xywh(np.repeat(np.arange(frames), players), np.tile(np.arange(players), frames),
                                np.arange(n) % 500, np.arange(n) % 300, np.full(n, width), np.full(n, 60.0),
                                np.full(n, 0.75))


def write_results(path, det: Detections, job_id: str = "job-a", video_id: int = 1) -> ResultsWriter:
    """A results file of `det` for `job_id` and `video_id`, in row groups of 50."""
    with ResultsWriter(path, job_id=job_id, video_id=video_id, detector="hog", row_group_rows=50) as w:
        w.write(det)
    return w


def ledger_rows(db_url) -> int:
    """Rows in the import ledger (`cloud_imports`)."""
    with transaction(db_url) as s:
        return s.execute(select(func.count()).select_from(CloudImport)).scalar_one()
