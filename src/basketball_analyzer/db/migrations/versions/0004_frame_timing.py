"""videos.start_time, frame_rate_mode, frame_times: each video's frame timing (video.FrameTiming), so every part
of the product, the browser included, numbers frames alike. Filled from the files that are still there.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("start_time", sa.Float(), nullable=True))
        batch.add_column(sa.Column("frame_rate_mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("frame_times", sa.LargeBinary(), nullable=True))
    from basketball_analyzer.exceptions import VideoError
    from basketball_analyzer.videos import timing_columns

    bind = op.get_bind()
    videos = sa.table("videos", sa.column("id"), sa.column("path"), sa.column("start_time"),
                      sa.column("frame_rate_mode"), sa.column("frame_times"))
    for video_id, path in bind.execute(sa.select(videos.c.id, videos.c.path)).all():
        try:
            values = timing_columns(path)
        except (OSError, VideoError):
            continue  # the file is gone or unreadable: `bball video show` says the timing is unknown
        bind.execute(videos.update().where(videos.c.id == video_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("frame_times")
        batch.drop_column("frame_rate_mode")
        batch.drop_column("start_time")
