"""JSON API over the library: videos, the video file (HTTP ranges), detections by frame range, tracks,
stats and local jobs. Each route parses, calls one library function in one transaction, and returns JSON.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from ..db import transaction
from ..exceptions import BballError, NotFound, VideoError

router = APIRouter()


def _url(request: Request) -> str:
    return request.app.state.settings.database_url


@router.get("/videos")
def list_videos(request: Request) -> list[dict]:
    """Every registered video with its detections, tracks, teams and latest job."""
    from ..browse import summaries

    with transaction(_url(request)) as s:
        return [v.to_dict() for v in summaries(s)]


@router.get("/videos/{video_id}")
def show_video(request: Request, video_id: int, counts: bool = True) -> dict:
    """One video's summary (`counts=false`: without counting its boxes, which takes a second on a long game)."""
    from ..browse import summary

    with transaction(_url(request)) as s:
        return summary(s, video_id, counts).to_dict()


@router.post("/videos", status_code=201)
async def upload_video(request: Request, file: UploadFile) -> dict:
    """Register an uploaded video file (streamed to disk, size-limited, probed before registering)."""
    from ..videos import register_video
    from ..video import probe

    settings = request.app.state.settings
    limit = settings.web_max_upload_mb * 1024 * 1024
    folder = Path(settings.web_upload_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(file.filename or "upload.mp4").name or "upload.mp4"
    tmp = Path(tempfile.mkstemp(prefix=".upload-", dir=folder)[1])
    try:
        size = 0
        with tmp.open("wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    return JSONResponse({"error": f"upload larger than {settings.web_max_upload_mb} MB "
                                                  "(WEB_MAX_UPLOAD_MB)"}, status_code=413)
                out.write(chunk)
        try:
            info = probe(tmp)
        except VideoError:
            raise VideoError(f"{name} is not a readable video") from None
        with transaction(_url(request)) as s:
            reg = register_video(s, tmp, info)
            if reg.created:
                final = _free_name(folder / name)
                shutil.move(str(tmp), final)
                reg.video.path, reg.video.file_name = str(final.resolve()), final.name
            return {"id": reg.video.id, "created": reg.created, "file_name": reg.video.file_name}
    finally:
        tmp.unlink(missing_ok=True)


def _free_name(path: Path) -> Path:
    n = 1
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


@router.get("/videos/{video_id}/file")
def video_file(request: Request, video_id: int) -> Response:
    """The registered video's bytes (HTTP range requests supported, so the browser can seek)."""
    from ..videos import get_video

    with transaction(_url(request)) as s:
        video = get_video(s, video_id)
        path, name = Path(video.path), video.file_name
    if not path.is_file():
        raise NotFound(f"video {video_id}'s file is gone: {name}")
    media = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska"}
    return FileResponse(path, media_type=media.get(path.suffix.lower(), "application/octet-stream"))


@router.get("/videos/{video_id}/thumbnail.jpg")
def thumbnail(request: Request, video_id: int) -> Response:
    """A 320-pixel-wide JPEG of a frame a tenth into the video."""
    import cv2

    from ..video import frames_at
    from ..videos import get_video

    with transaction(_url(request)) as s:
        video = get_video(s, video_id)
        path, frame = video.path, video.frame_count // 10
    if not Path(path).is_file():
        raise NotFound(f"video {video_id}'s file is gone")
    image = next(iter(frames_at(path, [frame])), None)
    if image is None:
        raise NotFound(f"video {video_id} has no frame {frame}")
    h, w = image.image.shape[:2]
    small = cv2.resize(image.image, (320, max(1, round(h * 320 / w))), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return Response(data.tobytes(), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/videos/{video_id}/detections")
def detections(request: Request, video_id: int, start: int = Query(0, ge=0), end: int = Query(300, ge=1)) -> dict:
    """Boxes of frames start..end-1 as parallel arrays (at most 3,000 frames a request)."""
    from ..browse import detections_in_range

    with transaction(_url(request)) as s:
        return detections_in_range(s, video_id, start, end)


@router.get("/videos/{video_id}/tracks")
def tracks(request: Request, video_id: int) -> list[dict]:
    """The video's `tracks` rows (teams and colours), empty before `bball teams`."""
    from ..analytics.tracks import list_tracks
    from ..videos import get_video

    with transaction(_url(request)) as s:
        get_video(s, video_id)
        return [{"tracking_id": t.tracking_id, "label": t.label, "team": t.team, "color": t.color,
                 "frames_seen": t.frames_seen, "first_frame": t.first_frame, "last_frame": t.last_frame}
                for t in list_tracks(s, video_id)]


@router.get("/videos/{video_id}/stats")
def stats(request: Request, video_id: int) -> dict:
    """`bball stats` as JSON."""
    from ..analytics.stats import video_stats

    with transaction(_url(request)) as s:
        return video_stats(s, video_id).to_dict()


@router.get("/videos/{video_id}/court")
def court(request: Request, video_id: int) -> dict:
    """The court calibration (matrix image -> court), or 404."""
    from ..analytics.calibration import get_calibration

    with transaction(_url(request)) as s:
        cal = get_calibration(s, video_id)
    if cal is None:
        raise NotFound(f"video {video_id} has no court calibration")
    return {"court": cal.court.name, "unit": cal.court.unit, "length": cal.court.length, "width": cal.court.width,
            "matrix": cal.matrix.tolist(), "rms_error": cal.rms_error}


@router.get("/videos/{video_id}/heatmap.png")
def heatmap(request: Request, video_id: int) -> Response:
    """Heatmaps per team and per player on a drawn court (needs a court calibration)."""
    from ..analytics.pictures import render_heatmap

    with tempfile.TemporaryDirectory(prefix="bball-heat-") as tmp, transaction(_url(request)) as s:
        path, _ = render_heatmap(s, video_id, Path(tmp) / "heatmap.png")
        return Response(path.read_bytes(), media_type="image/png")


class RunRequest(BaseModel):
    """A detection run to queue (locally or on cloud GPUs): the video and the run's parameters."""

    video_id: int = Field(ge=1, le=2**31 - 1)
    detector: str = "auto"
    confidence: float | None = Field(default=None, ge=0, le=1)  # None: the detector's own
    sample_interval: int = Field(default=1, ge=1, le=10_000)
    prompts: list[str] = Field(default_factory=list, max_length=8)

    def params(self):
        """The run's `DetectionParams`; one-line `BballError` for an unknown detector or empty prompts."""
        from ..detection import DEFAULT_PROMPT, DetectionParams
        from ..detection.factory import available_detectors

        if self.detector not in available_detectors():
            raise BballError(f"unknown detector {self.detector[:20]!r}: choose one of "
                             f"{', '.join(available_detectors())}")
        try:
            return DetectionParams(sample_interval=self.sample_interval, confidence_threshold=self.confidence,
                                   detector=self.detector, prompts=tuple(self.prompts) or (DEFAULT_PROMPT,))
        except ValueError as exc:
            raise BballError(str(exc)) from None


def _job_dict(job) -> dict:
    return {"id": job.id, "video_id": job.video_id, "status": job.status, "progress": round(job.progress or 0, 4),
            "frames_processed": job.frames_processed, "error": job.error, "worker_id": job.worker_id,
            "created_at": job.created_at.isoformat() if job.created_at else None}


@router.get("/jobs")
def list_jobs(request: Request) -> list[dict]:
    """Local jobs, newest first."""
    from ..jobs import list_jobs as jobs

    with transaction(_url(request)) as s:
        return [_job_dict(j) for j in reversed(jobs(s))]


@router.post("/jobs", status_code=201)
def create_job(request: Request, body: RunRequest) -> dict:
    """Queue a local job for `bball worker`."""
    from ..jobs import create_job as create
    from ..videos import get_video

    params = body.params()
    with transaction(_url(request)) as s:
        get_video(s, body.video_id)
        return _job_dict(create(s, body.video_id, params))


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: int) -> dict:
    """Cancel a pending or processing local job."""
    from ..jobs import cancel_job

    with transaction(_url(request)) as s:
        return _job_dict(cancel_job(s, job_id))
