"""A moving camera: calibrations become keyframes (`court_calibrations` keyed by video and frame), the followed
camera's per-frame homographies (`camera_paths`), and `player_positions` a table of every box's court position
computed once in Python (analytics/positions.py), with `on_court` for benches, staff and crowd.

The view it replaces applied one homography per video in SQL; its rows are recomputed by `bball court set`
(existing calibrations become keyframes at frame 0; run `bball court follow VIDEO` to fill positions).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS player_positions")
    # Recreate the table with (video_id, frame_number) as its key (SQLite cannot alter a primary key in place);
    # each existing calibration becomes the keyframe at frame 0.
    op.rename_table("court_calibrations", "court_calibrations_old")
    op.create_table(
        "court_calibrations",
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("frame_number", sa.Integer, primary_key=True),
        sa.Column("court", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(4), nullable=False),
        *[sa.Column(f"h{i}", sa.Float, nullable=False) for i in range(9)],
        sa.Column("rms_error", sa.Float, nullable=False),
        sa.Column("max_error", sa.Float, nullable=False),
        sa.Column("points", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    cols = ", ".join(["video_id", "court", "unit", *[f"h{i}" for i in range(9)], "rms_error",
                      "max_error", "points", "created_at"])
    op.execute(f"INSERT INTO court_calibrations (frame_number, {cols}) SELECT 0, {cols} FROM court_calibrations_old")
    op.drop_table("court_calibrations_old")
    op.create_table(
        "camera_paths",
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("court", sa.String(16), nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("matrices", sa.LargeBinary, nullable=False),
        sa.Column("sources", sa.LargeBinary, nullable=False),
        sa.Column("breaks", sa.JSON, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
    )
    op.create_table(
        "player_positions",
        sa.Column("detection_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  sa.ForeignKey("player_detections.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("frame_number", sa.Integer, nullable=False),
        sa.Column("tracking_id", sa.Integer, nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("court_x", sa.Float, nullable=False),
        sa.Column("court_y", sa.Float, nullable=False),
        sa.Column("on_court", sa.Boolean, nullable=False),
        sa.Column("unit", sa.String(4), nullable=False),
    )
    op.create_index("ix_player_positions_video_frame", "player_positions", ["video_id", "frame_number"])
    op.create_index("ix_player_positions_video_track", "player_positions", ["video_id", "tracking_id"])


def downgrade() -> None:
    raise NotImplementedError("0006 replaces one calibration per video by keyframes; restore a backup instead")
