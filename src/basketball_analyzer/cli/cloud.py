"""`bball cloud …`: submit videos to the bucket, watch jobs, import results.

The commands themselves live in `cli/cloud_jobs.py` (submit, status, cancel, retry) and
`cli/cloud_import.py` (import-job, import-all); each attaches itself to `cloud_group`.
"""

from __future__ import annotations

import importlib

import click


@click.group("cloud")
def cloud_group() -> None:
    """Process videos on cloud GPU workers through an S3/R2 bucket."""


def register(cli: click.Group) -> None:
    """Attach to the root group, with whichever cloud command modules exist."""
    for name in ("cloud_jobs", "cloud_import"):
        try:
            mod = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        mod.attach(cloud_group)
    cli.add_command(cloud_group)
