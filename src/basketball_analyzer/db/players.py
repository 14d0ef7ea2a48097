"""Player identity tables: `players` (one row per person of a video: team, jersey number, name),
`track_players` (each track's player and the number read on it) and `roster_entries` (the names a roster gave).

Users query them beside `tracks` and `player_detections`: `JOIN track_players USING (video_id, tracking_id)`
gives every box its player.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class Player(Base):
    """One person of a video. `source` is `manual` once a person set anything about him (merge, split, set):
    later automatic runs keep such a player's tracks and fields."""

    __tablename__ = "players"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    player_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str | None] = mapped_column(String(16))
    number: Mapped[str | None] = mapped_column(String(3))
    name: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="auto")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class TrackPlayer(Base):
    """A track's player, and the jersey number read on the track (kept so a re-run reads only new tracks)."""

    __tablename__ = "track_players"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    tracking_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    player_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    frames_seen: Mapped[int] = mapped_column(Integer, nullable=False)
    first_frame: Mapped[int] = mapped_column(Integer, nullable=False)
    last_frame: Mapped[int] = mapped_column(Integer, nullable=False)
    number_read: Mapped[str | None] = mapped_column(String(3))
    number_confidence: Mapped[float | None] = mapped_column(Float)
    number_reads: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="auto")


class RosterEntry(Base):
    """One line of an imported roster: who wears `number` for `team` in this video."""

    __tablename__ = "roster_entries"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    team: Mapped[str] = mapped_column(String(16), primary_key=True)
    number: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
