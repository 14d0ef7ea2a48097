"""Players: `players` (team, jersey number, name per person of a video), `track_players` (each track's player
and the number read on it) and `roster_entries` (names from an imported roster).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _video_id():
    return sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "players",
        _video_id(),
        sa.Column("player_id", sa.Integer, primary_key=True),
        sa.Column("team", sa.String(16)),
        sa.Column("number", sa.String(3)),
        sa.Column("name", sa.Text),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "track_players",
        _video_id(),
        sa.Column("tracking_id", sa.Integer, primary_key=True),
        sa.Column("player_id", sa.Integer, nullable=False),
        sa.Column("frames_seen", sa.Integer, nullable=False),
        sa.Column("first_frame", sa.Integer, nullable=False),
        sa.Column("last_frame", sa.Integer, nullable=False),
        sa.Column("number_read", sa.String(3)),
        sa.Column("number_confidence", sa.Float),
        sa.Column("number_reads", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_track_players_player_id", "track_players", ["player_id"])
    op.create_table(
        "roster_entries",
        _video_id(),
        sa.Column("team", sa.String(16), primary_key=True),
        sa.Column("number", sa.String(3), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("roster_entries", "track_players", "players"):
        op.drop_table(table)
