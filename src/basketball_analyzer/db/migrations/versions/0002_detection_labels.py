"""player_detections.label: what each box is ("player" for every row stored before labels existed).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server default fills the existing rows, so NOT NULL holds on SQLite and PostgreSQL alike.
    with op.batch_alter_table("player_detections") as batch:
        batch.add_column(sa.Column("label", sa.String(64), nullable=False, server_default="player"))


def downgrade() -> None:
    with op.batch_alter_table("player_detections") as batch:
        batch.drop_column("label")
