"""Analytics tables: `tracks` (team per track), `court_calibrations` (keyframes: a homography fitted on one
frame), `camera_paths` (the followed camera: a homography per frame) and `player_positions` (every box's court
position, computed once by analytics/positions.py).

Users query them beside `player_detections`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class Track(Base):
    """One track of a video: its label, team (A, B, other or unassigned), jersey colour and extent."""

    __tablename__ = "tracks"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    tracking_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), nullable=False, default="player")
    team: Mapped[str | None] = mapped_column(String(16))
    team_source: Mapped[str] = mapped_column(String(16), nullable=False, default="auto")
    color: Mapped[str | None] = mapped_column(String(7))
    frames_seen: Mapped[int] = mapped_column(Integer, nullable=False)
    first_frame: Mapped[int] = mapped_column(Integer, nullable=False)
    last_frame: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class CourtCalibration(Base):
    """A keyframe: the image-to-court homography (h0..h8 row-major) fitted on one frame, its court and fit error."""

    __tablename__ = "court_calibrations"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    frame_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    court: Mapped[str] = mapped_column(String(16), nullable=False)
    unit: Mapped[str] = mapped_column(String(4), nullable=False)
    h0: Mapped[float] = mapped_column(Float, nullable=False)
    h1: Mapped[float] = mapped_column(Float, nullable=False)
    h2: Mapped[float] = mapped_column(Float, nullable=False)
    h3: Mapped[float] = mapped_column(Float, nullable=False)
    h4: Mapped[float] = mapped_column(Float, nullable=False)
    h5: Mapped[float] = mapped_column(Float, nullable=False)
    h6: Mapped[float] = mapped_column(Float, nullable=False)
    h7: Mapped[float] = mapped_column(Float, nullable=False)
    h8: Mapped[float] = mapped_column(Float, nullable=False)
    rms_error: Mapped[float] = mapped_column(Float, nullable=False)
    max_error: Mapped[float] = mapped_column(Float, nullable=False)
    points: Mapped[list] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class CameraPath(Base):
    """The followed camera of a video: every frame's homography (float64 (frames, 9), zlib) and its source
    (uint8 per frame: 0 unmapped, 1 keyframe, 2 tracked, zlib), and why tracking stopped where it did."""

    __tablename__ = "camera_paths"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    court: Mapped[str] = mapped_column(String(16), nullable=False)
    frames: Mapped[int] = mapped_column(Integer, nullable=False)
    matrices: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sources: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    breaks: Mapped[dict] = mapped_column(JSON, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class PlayerPosition(Base):
    """Where one stored box stands on the court (its foot point) in the court's unit, and whether that is on the
    court (benches, staff and crowd are not). Boxes of unmapped frames have no row."""

    __tablename__ = "player_positions"
    __table_args__ = (Index("ix_player_positions_video_frame", "video_id", "frame_number"),
                      Index("ix_player_positions_video_track", "video_id", "tracking_id"))

    detection_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                              ForeignKey("player_detections.id", ondelete="CASCADE"),
                                              primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), nullable=False)
    frame_number: Mapped[int] = mapped_column(Integer, nullable=False)
    tracking_id: Mapped[int] = mapped_column(Integer, nullable=False)
    label: Mapped[str] = mapped_column(String(64), nullable=False)
    court_x: Mapped[float] = mapped_column(Float, nullable=False)
    court_y: Mapped[float] = mapped_column(Float, nullable=False)
    on_court: Mapped[bool] = mapped_column(Boolean, nullable=False)
    unit: Mapped[str] = mapped_column(String(4), nullable=False)
