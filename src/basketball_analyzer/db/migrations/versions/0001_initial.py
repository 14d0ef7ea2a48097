"""Initial schema: videos, detection_jobs, player_detections, cloud_imports.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("file_name", sa.String(512), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("frame_count", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("codec", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "detection_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("frames_processed", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("worker_id", sa.String(128)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("completed_at", TS),
        sa.Column("updated_at", TS),
    )
    op.create_index("ix_detection_jobs_video_id", "detection_jobs", ["video_id"])
    op.create_index("ix_detection_jobs_status", "detection_jobs", ["status"])
    op.create_table(
        "player_detections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("detection_jobs.id", ondelete="SET NULL")),
        sa.Column("cloud_job_id", sa.String(64)),
        sa.Column("frame_number", sa.Integer, nullable=False),
        sa.Column("tracking_id", sa.Integer, nullable=False),
        sa.Column("bbox_x", sa.Float, nullable=False),
        sa.Column("bbox_y", sa.Float, nullable=False),
        sa.Column("bbox_width", sa.Float, nullable=False),
        sa.Column("bbox_height", sa.Float, nullable=False),
        sa.Column("confidence_score", sa.Float, nullable=False),
    )
    op.create_index("ix_player_detections_video_frame", "player_detections", ["video_id", "frame_number"])
    op.create_index("ix_player_detections_job", "player_detections", ["job_id"])
    op.create_index("ix_player_detections_cloud_job_id", "player_detections", ["cloud_job_id"])
    op.create_table(
        "cloud_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cloud_job_id", sa.String(64), nullable=False),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("results_key", sa.Text, nullable=False),
        sa.Column("results_sha256", sa.String(64), nullable=False),
        sa.Column("detections", sa.BigInteger, nullable=False),
        sa.Column("frames_processed", sa.Integer, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.UniqueConstraint("cloud_job_id", name="uq_cloud_imports_job"),
    )


def downgrade() -> None:
    op.drop_table("cloud_imports")
    op.drop_table("player_detections")
    op.drop_table("detection_jobs")
    op.drop_table("videos")
