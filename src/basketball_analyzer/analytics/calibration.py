"""Storing a video's court calibration: parse the user's point pairs, fit, and keep one row per video.

Every function takes the caller's `Session` and does not commit.
"""

from __future__ import annotations

import math

import numpy as np
from sqlalchemy.orm import Session

from ..db.analytics import CourtCalibration
from ..db.models import Video, utcnow
from ..exceptions import CalibrationError, NotFound
from .court import Calibration, court_spec, fit_calibration


def parse_pair(text: str, court_name: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """`X,Y=LANDMARK` or `X,Y=CX,CY`: an image point (pixels) and the court point it shows."""
    if "=" not in text:
        raise CalibrationError(f"point {text[:40]!r} is not IMAGE_X,IMAGE_Y=COURT_POINT "
                               "(e.g. 312,188=far_left_corner or 312,188=0,0)")
    left, right = text.split("=", 1)
    parts = left.split(",")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise CalibrationError(f"image point {left[:30]!r} is not X,Y in pixels") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CalibrationError(f"image point {left[:30]!r} is not finite")
    return (x, y), court_spec(court_name).point(right)


def set_calibration(session: Session, video_id: int, pairs: list[str], court_name: str) -> Calibration:
    """Fit the court from `pairs` (see `parse_pair`) against the video's frame size and store it."""
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video with id {video_id} (see `bball video list`)")
    court = court_spec(court_name)
    parsed = [parse_pair(p, court.name) for p in pairs]
    cal = fit_calibration([p[0] for p in parsed], [p[1] for p in parsed], court, (video.width, video.height))
    row = session.get(CourtCalibration, video_id) or CourtCalibration(video_id=video_id)
    row.court, row.unit = court.name, court.unit
    for i, value in enumerate(cal.matrix.reshape(-1).tolist()):
        setattr(row, f"h{i}", float(value))
    row.rms_error, row.max_error = cal.rms_error, cal.max_error
    row.points = [{"image": list(p[0]), "court": list(p[1])} for p in parsed]
    row.created_at = utcnow()
    session.add(row)
    session.flush()
    return cal


def get_calibration(session: Session, video_id: int) -> Calibration | None:
    """The stored calibration of a video, or None."""
    row = session.get(CourtCalibration, video_id)
    if row is None:
        return None
    matrix = np.array([getattr(row, f"h{i}") for i in range(9)], np.float64).reshape(3, 3)
    return Calibration(court_spec(row.court), matrix, row.rms_error, row.max_error, len(row.points))
