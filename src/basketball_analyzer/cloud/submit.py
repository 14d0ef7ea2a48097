"""Submitting a video to the bucket: the one function `bball cloud submit` and the demo both call."""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import VideoError, WrongVideo
from .manifest import JobManifest
from .queue import CloudQueue
from .segments import OVERLAP_SECONDS
from .storage import BytesFn


def submit_job(queue: CloudQueue, *, params, video_id: int | None = None,
               video_path: str | os.PathLike | None = None, database_url: str | None = None,
               on_upload: BytesFn | None = None, on_hash: BytesFn | None = None,
               segments: int | None = None, segment_minutes: float | None = None,
               overlap_seconds: float = OVERLAP_SECONDS) -> JobManifest:
    """Check the bucket, hash and probe the video, upload it and queue a pending job.

    Give `video_id` (the registered file is uploaded), `video_path` (registered first if it is new), or
    both, in which case the file must be the one registered under that id (`WrongVideo` otherwise): the
    manifest records the file's sha256 and size, and import refuses results for any other file.
    Everything is checked before the first byte is uploaded, the bucket's existence included.
    `segments`/`segment_minutes` split a long video (`cloud.segments.plan_segments`; by default one
    segment per 10 minutes of a video over 20 minutes); bad values raise `SegmentError` before any upload.
    """
    from ..pipeline import sampled_frame_count
    from ..video import probe
    from .segments import check_options, plan_segments

    if video_id is None and video_path is None:
        raise VideoError("give a video id or a video file to submit")
    check_options(segments, segment_minutes)  # before anything is hashed, registered or uploaded
    # First, and cheap (one HEAD): a missing bucket fails before a file is hashed, registered or uploaded
    # (R2 never creates a bucket on write).
    queue.storage.check()
    video_id, path, sha256, size, registered = _identify(video_id, video_path, database_url, on_hash)
    try:
        info = probe(path, exact=True)
        frames_total = sampled_frame_count(info, params.sample_interval)
        plan = plan_segments(info.frame_count, info.fps, segments=segments, segment_minutes=segment_minutes,
                             sample_interval=params.sample_interval, overlap_seconds=overlap_seconds)
        return queue.submit(video_id, path, params, frames_total=frames_total, on_upload=on_upload,
                            video_sha256=sha256, video_size=size, plan=plan, fps=info.fps,
                            frames_of=lambda a, b: sampled_frame_count(info, params.sample_interval, (a, b)))
    except BaseException:
        if registered:  # a failed submit leaves the database as it found it
            _forget(database_url, video_id)
        raise


def _forget(database_url: str | None, video_id: int) -> None:
    """Remove the video this submit registered (nothing refers to it yet: no job was queued)."""
    from ..db import transaction
    from ..db.models import Video

    with transaction(database_url) as s:
        video = s.get(Video, video_id)
        if video is not None:
            s.delete(video)


def _identify(video_id: int | None, video_path, database_url: str | None,
              on_hash: BytesFn | None) -> tuple[int, Path, str, int, bool]:
    """(video id, file, sha256, size, newly registered) of what is submitted, registering a new file given
    by path alone."""
    from ..db import transaction
    from ..video import sha256_file
    from ..videos import get_video, register_video, video_file

    with transaction(database_url) as s:
        if video_path is None:
            video = get_video(s, video_id)
            path = Path(video.path)
            if not path.is_file():
                raise VideoError(f"video {video_id}'s file is missing: {path} (give --video-path)")
            digest = sha256_file(path, on_progress=on_hash)
            if digest != video.sha256:
                raise WrongVideo(f"video {video_id}'s file {path} has changed since it was registered "
                                 "(its sha256 differs); register the new file with `bball video add`")
            return video.id, path, digest, path.stat().st_size, False
        path = video_file(video_path)
        if video_id is None:
            reg = register_video(s, path, on_hash_progress=on_hash)
            return reg.video.id, path, reg.video.sha256, path.stat().st_size, reg.created
        video = get_video(s, video_id)
        digest = sha256_file(path, on_progress=on_hash)
        if digest != video.sha256:
            raise WrongVideo(f"{path.name} is not video {video_id} ({video.file_name}): the file's sha256 "
                             f"{digest[:12]}… differs from the registered {video.sha256[:12]}…; give the "
                             "path alone to submit it as its own video")
        return video.id, path, digest, path.stat().st_size, False
