"""Tables: `videos`, `detection_jobs` (the local job queue), `player_detections`, `cloud_imports` (the ledger).

Table and column names are a public interface: users query them with sqlite3 and psql.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..detections import INT32_MAX, INT32_MIN, fits_int32  # noqa: F401  (the INTEGER columns' range, defined once)
from ..lifecycle import JobStatus  # the job states, defined once for both queues


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the database sees."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base for every table."""


class Video(Base):
    """A registered video file."""

    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    file_name: Mapped[str] = mapped_column(String(512), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    fps: Mapped[float] = mapped_column(Float, nullable=False)
    frame_count: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    duration: Mapped[float] = mapped_column(Float, nullable=False)
    codec: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    # Frame timing (video.FrameTiming), so the browser maps a presentation time to the frame the product numbers
    # it: frame 0's timestamp in s; `constant` or `variable`; for a variable rate, every frame's time
    # (float64 seconds, zlib). NULL for a video registered before 0004 whose file was gone at the upgrade.
    start_time: Mapped[float | None] = mapped_column(Float)
    frame_rate_mode: Mapped[str | None] = mapped_column(String(16))
    frame_times: Mapped[bytes | None] = mapped_column(LargeBinary)


class DetectionJob(Base):
    """A detection run of one video: the local queue's unit of work."""

    __tablename__ = "detection_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=JobStatus.pending.value, index=True)
    parameters: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    frames_processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlayerDetection(Base):
    """One tracked player box in one frame."""

    __tablename__ = "player_detections"
    __table_args__ = (
        Index("ix_player_detections_video_frame", "video_id", "frame_number"),
        Index("ix_player_detections_job", "job_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("detection_jobs.id", ondelete="SET NULL"))
    cloud_job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    frame_number: Mapped[int] = mapped_column(Integer, nullable=False)
    tracking_id: Mapped[int] = mapped_column(Integer, nullable=False)
    bbox_x: Mapped[float] = mapped_column(Float, nullable=False)
    bbox_y: Mapped[float] = mapped_column(Float, nullable=False)
    bbox_width: Mapped[float] = mapped_column(Float, nullable=False)
    bbox_height: Mapped[float] = mapped_column(Float, nullable=False)
    confidence_score: Mapped[float] = mapped_column(Float, nullable=False)
    # What the box is ("player", or a SAM 3 prompt's label); migration 0002 added it with this default.
    label: Mapped[str] = mapped_column(String(64), nullable=False, default="player", server_default="player")


class CloudImport(Base):
    """The import ledger: which cloud job's results are in `player_detections`, and what they were."""

    __tablename__ = "cloud_imports"
    __table_args__ = (UniqueConstraint("cloud_job_id", name="uq_cloud_imports_job"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cloud_job_id: Mapped[str] = mapped_column(String(64), nullable=False)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), nullable=False)
    results_key: Mapped[str] = mapped_column(Text, nullable=False)
    results_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    detections: Mapped[int] = mapped_column(BigInteger, nullable=False)
    frames_processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    # The run's parameters as its results file records them (sample_interval, detector…); NULL for imports
    # from before migration 0005 and for files that record none.
    parameters: Mapped[dict | None] = mapped_column(JSON)
