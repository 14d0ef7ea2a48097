"""`bball jobs create|list|cancel`: the local job queue."""

from __future__ import annotations

import click

from .common import build_params, params_options, print_json, print_table


@click.group("jobs")
def jobs_group() -> None:
    """Queue detection jobs for the local worker."""


@jobs_group.command("create")
@click.argument("video")
@params_options
def jobs_create(video: str, sample_interval: int, confidence: float | None, detector: str | None,
                prompts: tuple[str, ...]) -> None:
    """Queue a detection job for VIDEO (an id or a path, registered if needed)."""
    from ..db import transaction
    from ..jobs import create_job
    from ..videos import resolve_video

    params = build_params(sample_interval, confidence, detector, prompts)
    with transaction() as s:
        reg = resolve_video(s, video)
        job = create_job(s, reg.video.id, params)
        job_id, video_id = job.id, reg.video.id
    click.echo(f"Created job {job_id} for video {video_id}. Run it with: bball worker --once")


@jobs_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def jobs_list(as_json: bool) -> None:
    """List local jobs."""
    from ..db import transaction
    from ..jobs import list_jobs

    with transaction() as s:
        rows = [(j.id, j.video_id, j.status, f"{j.progress * 100:.0f}%", j.frames_processed, j.worker_id,
                 j.created_at.strftime("%Y-%m-%d %H:%M:%S"), (j.error or "")[:60]) for j in list_jobs(s)]
    cols = ["id", "video", "status", "progress", "frames", "worker", "created", "error"]
    if as_json:
        print_json([dict(zip(cols, r)) for r in rows])
    elif not rows:
        click.echo("No jobs yet. Create one with: bball jobs create VIDEO")
    else:
        print_table("Jobs", cols, rows)


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
def jobs_cancel(job_id: int) -> None:
    """Cancel a pending, processing or failed job (a completed one is final)."""
    from ..db import transaction
    from ..jobs import cancel_job

    with transaction() as s:
        cancel_job(s, job_id)
    click.echo(f"Cancelled job {job_id}.")


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(jobs_group)
