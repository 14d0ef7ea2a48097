"""Analytics tables: `tracks` (team per track) and `court_calibrations` (homography per video).

Users query them beside `player_detections`; the `player_positions` view (migration 0003) joins them into
court coordinates of every box's foot point.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
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
    """A video's image-to-court homography (h0..h8 row-major), its court and fit error."""

    __tablename__ = "court_calibrations"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
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
