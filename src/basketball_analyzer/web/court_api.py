"""The court routes: the drawn courts and their landmarks, a video's keyframes and unmapped frames, the court
lines drawn back over a frame, a dry-run fit, and saving a keyframe (which follows the camera).

The browser never applies a homography: fitted or followed court lines come back in image pixels, positions
in the detections chunks (analytics/positions.py computes them once). Saving goes through
`analytics.calibration.set_calibration`, as `bball court set` does, in one transaction: bad input is a 4xx with
one line and nothing is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..db import transaction
from ..detections import INT32_MAX

router = APIRouter()

VideoId = Annotated[int, Path(ge=1, le=INT32_MAX, description="a registered video's id")]
MAX_POINTS = 64
"""Point pairs one fit may send (a calibration needs four; a careful user clicks a dozen)."""
LINE_STEP_METRES = 0.5
"""Court lines are cut into pieces this long before they are mapped, so a line that leaves the picture or passes
behind the camera is cut where it does instead of drawn straight through."""


class CourtPoint(BaseModel):
    """One pair: a pixel of the frame (`image`: [x, y]) and the court spot it shows (`court`: [x, y] in the
    court's unit, or a landmark's name)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    image: Annotated[list[float], Field(min_length=2, max_length=2)]
    court: Annotated[list[float], Field(min_length=2, max_length=2)] | Annotated[str, Field(max_length=64)]

    def pair(self) -> str:
        """The pair as `bball court set` takes it (`X,Y=LANDMARK` or `X,Y=CX,CY`); repr keeps every digit."""
        x, y = self.image
        ref = self.court if isinstance(self.court, str) else f"{self.court[0]!r},{self.court[1]!r}"
        return f"{x!r},{y!r}={ref}"


class KeyframeRequest(BaseModel):
    """Point pairs picked on one frame of the video, on a court (fiba, nba)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    frame: int = Field(ge=0, le=INT32_MAX)
    court: str = Field(max_length=16)
    points: list[CourtPoint] = Field(max_length=MAX_POINTS)
    fixed_camera: bool = False  # a tripod that never turns: one homography for every frame

    def pairs(self) -> list[str]:
        """Every pair as `bball court set` takes it."""
        return [p.pair() for p in self.points]


def _url(request: Request) -> str:
    return request.app.state.settings.database_url


def _court_dict(court) -> dict:
    import numpy as np

    from ..analytics.court import court_lines

    return {"name": court.name, "unit": court.unit, "length": court.length, "width": court.width,
            "landmarks": {k: list(v) for k, v in court.landmarks.items()},
            "lines": [np.round(line, 3).tolist() for line in court_lines(court)]}


@router.get("/courts")
def courts() -> list[dict]:
    """The courts a video can be calibrated on: size, unit, the named landmarks (points snap to them) and the
    painted lines as polylines in court units (what the pages draw)."""
    from ..analytics.court import COURTS

    return [_court_dict(c) for c in COURTS.values()]


@router.get("/videos/{video_id}/court")
def court(request: Request, video_id: VideoId) -> dict:
    """The video's keyframes (frame, point pairs, fit errors), its court and unit, how many frames the followed
    camera maps and the unmapped ranges with their reasons; 404 without a keyframe."""
    from sqlalchemy import select

    from ..analytics.court import court_spec
    from ..analytics.positions import load_path
    from ..db.analytics import CourtCalibration
    from ..exceptions import NotFound
    from ..videos import get_video

    with transaction(_url(request), readonly=True) as s:
        video = get_video(s, video_id)
        rows = list(s.execute(select(CourtCalibration).where(CourtCalibration.video_id == video_id)
                              .order_by(CourtCalibration.frame_number)).scalars())
        if not rows:
            raise NotFound(f"video {video_id} has no court calibration")
        keys = [{"frame": r.frame_number, "points": r.points, "rms_error": r.rms_error, "max_error": r.max_error}
                for r in rows]
        loaded = load_path(s, video_id)
        frames = video.frame_count
    spec = court_spec(rows[0].court)
    out = {"court": spec.name, "unit": spec.unit, "length": spec.length, "width": spec.width, "frames": frames,
           "keyframes": keys, "followed": loaded is not None, "mapped_frames": 0, "unmapped": []}
    if loaded is not None:
        out.update(_mapped(loaded[0]))
    return out


def _mapped(path) -> dict:
    """How many frames the path maps and its unmapped ranges (`end` exclusive), as `bball court show` says."""
    return {"mapped_frames": int((path.source > 0).sum()),
            "unmapped": [{"start": a, "end": b, "reason": why} for a, b, why in path.unmapped_ranges()]}


@router.get("/videos/{video_id}/court/lines")
def lines(request: Request, video_id: VideoId, frame: int = Query(ge=0, le=INT32_MAX)) -> dict:
    """The court's painted lines in image pixels through the mapping in force at `frame` (a keyframe's or the
    followed camera's): how well it still fits. An unmapped frame has no lines and says why."""
    from ..analytics.positions import mapping_at
    from ..videos import get_video

    with transaction(_url(request), readonly=True) as s:
        video = get_video(s, video_id)
        m = mapping_at(s, video_id, frame)
        size = video.width, video.height
    return {"frame": frame, "court": m.court.name, "source": m.source, "reason": m.reason,
            "lines": [] if m.matrix is None else image_lines(m.matrix, m.court, size)}


@router.post("/videos/{video_id}/court/fit")
def fit(request: Request, video_id: VideoId, body: KeyframeRequest) -> dict:
    """Fit the court on the body's points without storing anything: the fit's errors (RMS, max, per point, in
    the court's unit) and the court lines drawn back into the frame, in image pixels."""
    import numpy as np

    from ..analytics.calibration import parse_pair
    from ..analytics.court import apply_homography, fit_calibration

    from ..analytics.positions import check_keyframe

    with transaction(_url(request), readonly=True) as s:
        video, spec = check_keyframe(s, video_id, body.court, body.frame)
        size = video.width, video.height
    parsed = [parse_pair(p, spec.name) for p in body.pairs()]
    cal = fit_calibration([p[0] for p in parsed], [p[1] for p in parsed], spec, size)
    image = np.array([p[0] for p in parsed], np.float64)
    residual = np.linalg.norm(apply_homography(cal.matrix, image) - np.array([p[1] for p in parsed]), axis=1)
    return {"frame": body.frame, "court": spec.name, "unit": spec.unit, "points": cal.points,
            "rms_error": cal.rms_error, "max_error": cal.max_error, "errors": [round(float(e), 4) for e in residual],
            "lines": image_lines(cal.matrix, spec, size)}


@router.post("/videos/{video_id}/court/keyframes", status_code=201)
def save_keyframe(request: Request, video_id: VideoId, body: KeyframeRequest) -> dict:
    """Fit the court on the body's points, store it as a keyframe and follow the camera through the video (as
    `bball court set --frame`); says how many frames are mapped and which are not, and why."""
    from ..analytics.calibration import set_calibration
    from ..analytics.positions import load_path

    with transaction(_url(request)) as s:
        cal = set_calibration(s, video_id, body.pairs(), body.court, frame=body.frame,
                              fixed_camera=body.fixed_camera)
        path = load_path(s, video_id)[0]
    return {"frame": body.frame, "court": cal.court.name, "unit": cal.court.unit, "points": cal.points,
            "rms_error": cal.rms_error, "max_error": cal.max_error, "frames": path.frames, **_mapped(path)}


def image_lines(matrix, court, size: tuple[int, int]) -> list[list[list[float]]]:
    """The court's painted lines as image polylines through an image-to-court homography: cut where they pass
    behind the camera or far outside the picture (a broadcast frame shows part of the court)."""
    import numpy as np

    from ..analytics.court import court_lines

    matrix = np.asarray(matrix, np.float64)
    to_image = np.linalg.inv(matrix)
    w, h = size
    # A homography holds only up to scale: points in front of the camera are those whose third coordinate has
    # the sign the picture's own centre gets.
    facing = np.sign((matrix @ [w / 2, h / 2, 1.0])[2])
    step = LINE_STEP_METRES / court.metres_per_unit
    out = []
    for line in court_lines(court):
        pts = np.concatenate([np.linspace(a, b, max(2, int(np.ceil(np.linalg.norm(b - a) / step)) + 1))[:-1]
                              for a, b in zip(line[:-1], line[1:])] + [line[-1:]])
        homog = np.c_[pts, np.ones(len(pts))] @ to_image.T
        ahead = facing * homog[:, 2] > 1e-12
        xy = np.full((len(pts), 2), np.nan)
        xy[ahead] = homog[ahead, :2] / homog[ahead, 2:3]
        near = ahead & (xy[:, 0] > -w) & (xy[:, 0] < 2 * w) & (xy[:, 1] > -h) & (xy[:, 1] < 2 * h)
        start = None
        for i, ok in enumerate(np.append(near, False)):
            if ok and start is None:
                start = i
            elif not ok and start is not None:
                if i - start >= 2:
                    out.append(np.round(xy[start:i], 1).tolist())
                start = None
    return out
