"""Analytics tables: `tracks` (one row per track: label, team, colour, extent) and `court_calibrations` (one
homography per video), and the `player_positions` view: every box's foot point on the court.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# The foot point (bottom centre of the box) through the video's homography h0..h8 (row-major, image -> court).
POSITIONS_VIEW = """
CREATE VIEW player_positions AS
SELECT d.id AS detection_id, d.video_id, d.frame_number, d.tracking_id, d.label,
       (c.h0 * (d.bbox_x + d.bbox_width / 2) + c.h1 * (d.bbox_y + d.bbox_height) + c.h2)
         / (c.h6 * (d.bbox_x + d.bbox_width / 2) + c.h7 * (d.bbox_y + d.bbox_height) + c.h8) AS court_x,
       (c.h3 * (d.bbox_x + d.bbox_width / 2) + c.h4 * (d.bbox_y + d.bbox_height) + c.h5)
         / (c.h6 * (d.bbox_x + d.bbox_width / 2) + c.h7 * (d.bbox_y + d.bbox_height) + c.h8) AS court_y,
       c.unit
FROM player_detections d JOIN court_calibrations c ON c.video_id = d.video_id
"""


def upgrade() -> None:
    op.create_table(
        "tracks",
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tracking_id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(64), nullable=False, server_default="player"),
        sa.Column("team", sa.String(16)),
        sa.Column("team_source", sa.String(16), nullable=False, server_default="auto"),
        sa.Column("color", sa.String(7)),
        sa.Column("frames_seen", sa.Integer, nullable=False),
        sa.Column("first_frame", sa.Integer, nullable=False),
        sa.Column("last_frame", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "court_calibrations",
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("court", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(4), nullable=False),
        *[sa.Column(f"h{i}", sa.Float, nullable=False) for i in range(9)],
        sa.Column("rms_error", sa.Float, nullable=False),
        sa.Column("max_error", sa.Float, nullable=False),
        sa.Column("points", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.execute(POSITIONS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS player_positions")
    op.drop_table("court_calibrations")
    op.drop_table("tracks")
