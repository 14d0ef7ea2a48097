"""cloud_imports.parameters: the parameters of the run an import stored (its sample_interval above all), so
time on screen and possession count each stored frame for the video frames it stands for.

Local runs keep theirs in `detection_jobs.parameters`. Imports from before this revision stay NULL (their
files are in the bucket, if anywhere); readers then read the interval off the stored frame numbers.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cloud_imports") as batch:
        batch.add_column(sa.Column("parameters", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cloud_imports") as batch:
        batch.drop_column("parameters")
