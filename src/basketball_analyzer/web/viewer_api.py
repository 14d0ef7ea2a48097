"""Routes the pages need beyond the library's API: one track's heatmap (and the PNG every heatmap route sends),
and what the jobs form may offer.

Each route reads in one short transaction and does its drawing after it, so a slow picture holds no lock.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from ..db import transaction
from ..detections import INT32_MAX
from ..exceptions import ConfigError, NotFound

router = APIRouter()

VideoId = Annotated[int, Path(ge=1, le=INT32_MAX, description="a registered video's id")]
TrackId = Annotated[int, Path(ge=0, le=INT32_MAX, description="a track id of the video")]


@router.get("/videos/{video_id}/tracks/{tracking_id}/heatmap.png")
def track_heatmap(request: Request, video_id: VideoId, tracking_id: TrackId) -> Response:
    """Where one track was on the court, as a heatmap PNG: its stored court positions on the court (needs a
    court calibration; frames the camera path leaves unmapped, and moments off the court, are left out)."""
    from sqlalchemy import select

    from ..analytics.calibration import get_calibration
    from ..analytics.positions import track_positions
    from ..analytics.tracks import list_tracks
    from ..db.models import PlayerDetection
    from ..videos import get_video

    t = PlayerDetection.__table__
    with transaction(request.app.state.settings.database_url, readonly=True) as s:
        get_video(s, video_id)
        cal = get_calibration(s, video_id)
        if cal is None:
            raise NotFound(f"video {video_id} has no court calibration: run `bball court set {video_id} ...`")
        seen = s.execute(select(t.c.id).where(t.c.video_id == video_id, t.c.tracking_id == tracking_id)
                         .limit(1)).first()
        _frames, xy, inside = track_positions(s, video_id, tracking_id)
        team = next((r.team for r in list_tracks(s, video_id) if r.tracking_id == tracking_id), None)
    if seen is None:
        raise NotFound(f"video {video_id} has no track {tracking_id}")
    title = f"#{tracking_id}" + (f" team {team}" if team else "")
    if not len(xy):
        title += " (no mapped frames)"
    return heatmap_png(cal.court, xy[inside], title)


def heatmap_png(court, court_xy, title: str) -> Response:
    """A heatmap of court points (N, 2) on the drawn court, as a PNG response (a track's, a player's)."""
    import cv2

    from ..analytics.pictures import CourtCanvas, _heat_panel

    ok, data = cv2.imencode(".png", _heat_panel(CourtCanvas(court), court_xy, title))
    return Response(data.tobytes(), media_type="image/png", headers={"Cache-Control": "no-cache"})


@router.get("/run-options")
def run_options(request: Request) -> dict:
    """What a detection run may set (detectors and their default confidence, the default prompt) and whether
    this server has a bucket for cloud runs (when not, why: the jobs page stops asking the bucket)."""
    from ..detection import DEFAULT_PROMPT
    from ..detection.factory import DEFAULT_CONFIDENCE, available_detectors
    from .api import RunRequest

    try:
        request.app.state.settings.require_cloud()
        cloud, problem = True, None
    except ConfigError as exc:
        cloud, problem = False, str(exc)
    fields = RunRequest.model_fields
    return {"detectors": list(available_detectors()), "default_confidence": DEFAULT_CONFIDENCE,
            "default_prompt": DEFAULT_PROMPT, "max_prompts": _limit(fields["prompts"], "max_length", 8),
            "max_sample_interval": _limit(fields["sample_interval"], "le", 10_000),
            "cloud": {"configured": cloud, "problem": problem}}


def _limit(field, name: str, default: int) -> int:
    """A bound declared on a `RunRequest` field (so the form's limits are the API's)."""
    for item in field.metadata:
        if hasattr(item, name):
            return getattr(item, name)
    return default
