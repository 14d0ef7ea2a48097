"""Registering videos: probe, hash, and one row per distinct file content."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import Video
from .exceptions import NotFound
from .video import VideoInfo, probe, sha256_file


@dataclass(frozen=True)
class Registration:
    """The result of `register_video`: the row, and whether it existed before."""

    video: Video
    created: bool


def register_video(session: Session, path: str | os.PathLike, info: VideoInfo | None = None,
                   on_hash_progress: Callable[[int, int], None] | None = None) -> Registration:
    """Probe and hash `path`, then insert it unless the same content is already registered.

    Probing happens before anything is written, so a bad file leaves the database untouched.
    """
    path = Path(path).expanduser()
    info = info or probe(path)
    digest = sha256_file(path, on_progress=on_hash_progress)
    existing = session.execute(select(Video).where(Video.sha256 == digest)).scalar_one_or_none()
    if existing is not None:
        return Registration(existing, created=False)
    video = Video(
        path=str(path.resolve()), file_name=path.name, size_bytes=info.size_bytes, sha256=digest, fps=info.fps,
        frame_count=info.frame_count, width=info.width, height=info.height, duration=info.duration,
        codec=info.codec,
    )
    session.add(video)
    session.flush()
    return Registration(video, created=True)


def get_video(session: Session, video_id: int) -> Video:
    """The video with this id, or `NotFound`."""
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video with id {video_id} (see `bball video list`)")
    return video


def list_videos(session: Session) -> list[Video]:
    """Every registered video, oldest first."""
    return list(session.execute(select(Video).order_by(Video.id)).scalars())


def resolve_video(session: Session, ref: str) -> Registration:
    """An id ("3") or a path; a path not yet registered is registered."""
    if ref.isdigit() and not Path(ref).exists():
        return Registration(get_video(session, int(ref)), created=False)
    return register_video(session, ref)
