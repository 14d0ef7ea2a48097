"""`bball cloud import-job|import-all`: bring completed cloud jobs' detections into the local database."""

from __future__ import annotations

import click

from .cloud_jobs import shown
from .common import fail, print_table, progress_bar

_CLEANUP = click.option("--cleanup/--no-cleanup", default=False, show_default=True,
                        help="Delete the job's files from the bucket after a successful import.")
_COLUMNS = ["job", "video", "detections", "result"]


def _storage_and_db():
    from ..cloud.storage import CloudStorage
    from ..config import get_settings

    settings = get_settings()
    return CloudStorage.from_settings(settings), settings.database_url


def _row(outcome) -> list:
    if outcome.already_imported:
        result = "already imported"
    else:
        result = "imported"
    if outcome.cleaned_up:
        result += ", cleaned"
    return [outcome.cloud_job_id, outcome.video_id or None, outcome.rows, result]


def _summary(outcomes) -> None:
    new = [o for o in outcomes if not o.error and not o.already_imported]
    rows, seconds = sum(o.rows for o in new), sum(o.seconds for o in new)
    if new:
        rate = f" ({rows / seconds:,.0f} detections/s)" if seconds > 0 else ""
        click.echo(f"Imported {rows:,} detections from {len(new)} job(s) in {seconds:.1f} s{rate}.")


@click.command("import-job")
@click.option("--job-id", required=True, help="The cloud job to import (see `bball cloud status`).")
@_CLEANUP
def cloud_import_job(job_id: str, cleanup: bool) -> None:
    """Import one completed job's detections; running it again is harmless."""
    from ..cloud.importer import import_job

    storage, db_url = _storage_and_db()
    outcome = import_job(storage, db_url, job_id, cleanup=cleanup)
    print_table("Imported", _COLUMNS, [_row(outcome)])
    _summary([outcome])


@click.command("import-all")
@_CLEANUP
def cloud_import_all(cleanup: bool) -> None:
    """Import every completed job's detections, oldest first."""
    from ..cloud.importer import import_all

    storage, db_url = _storage_and_db()
    with progress_bar("Importing", unit="jobs") as update:
        outcomes = import_all(storage, db_url, cleanup=cleanup,
                              on_progress=lambda done, total, _outcome: update(done, total))
    if not outcomes:
        click.echo("No completed cloud jobs to import (see `bball cloud status`).")
        return
    done = [o for o in outcomes if not o.error]
    failed = [o for o in outcomes if o.error]
    if done:
        print_table("Imported", _COLUMNS, [_row(o) for o in done])
    _summary(outcomes)
    if failed:
        print_table("Not imported", ["job", "video", "why"],
                    [[o.cloud_job_id, o.video_id or None, shown(o.error)] for o in failed])
        fail(f"{len(failed)} of {len(outcomes)} job(s) could not be imported; see the table above")


def attach(group: click.Group) -> None:
    """Add import-job and import-all to the `cloud` group."""
    group.add_command(cloud_import_job)
    group.add_command(cloud_import_all)
