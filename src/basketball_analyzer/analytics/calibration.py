"""Calibrating a video's court from the user's point pairs: parse them, store a keyframe, map every frame.

Every function takes the caller's `Session` and does not commit.
"""

from __future__ import annotations

import math
from typing import Callable

from sqlalchemy.orm import Session

from ..db.models import Video
from ..exceptions import CalibrationError, NotFound
from .court import Calibration, court_spec


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


def set_calibration(session: Session, video_id: int, pairs: list[str], court_name: str, frame: int = 0,
                    fixed_camera: bool = False,
                    on_progress: Callable[[int, int], None] | None = None) -> Calibration:
    """Fit the court on `frame` from `pairs` (see `parse_pair`), store it as a keyframe, then map every frame:
    following the camera from the keyframes, or with `fixed_camera` one homography for all (a tripod that
    never turns). Positions are recomputed (analytics/positions.py)."""
    from .positions import follow, set_keyframe

    court = court_spec(court_name)
    parsed = [parse_pair(p, court.name) for p in pairs]
    if session.get(Video, video_id) is None:
        raise NotFound(f"no video with id {video_id} (see `bball video list`)")
    cal = set_keyframe(session, video_id, [p[0] for p in parsed], [p[1] for p in parsed], court.name, frame,
                       points=[{"image": list(p[0]), "court": list(p[1])} for p in parsed])
    follow(session, video_id, fixed=fixed_camera, on_progress=on_progress)
    return cal


def get_calibration(session: Session, video_id: int) -> Calibration | None:
    """The video's first keyframe (its court, and the homography of that frame), or None."""
    from .positions import keyframes

    keys = keyframes(session, video_id)
    return keys[min(keys)] if keys else None
