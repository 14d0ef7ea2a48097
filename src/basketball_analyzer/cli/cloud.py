"""`bball cloud …`: submit videos to the bucket, watch jobs, import results.

The commands live in `cli/cloud_jobs.py` (submit, status, cancel, retry, delete, gc) and `cli/cloud_import.py`
(import-job, import-all); each attaches itself to `cloud_group`.
"""

from __future__ import annotations

import click


@click.group("cloud")
def cloud_group() -> None:
    """Process videos on cloud GPU workers through an S3/R2 bucket."""


def register(cli: click.Group) -> None:
    """Attach the cloud group, with its commands, to the root group."""
    from . import cloud_import, cloud_jobs

    cloud_jobs.attach(cloud_group)
    cloud_import.attach(cloud_group)
    cli.add_command(cloud_group)
