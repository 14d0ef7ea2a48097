"""`bball cloud submit|status|cancel|retry`: the bucket job queue from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from .common import build_params, params_options, print_json, print_table, progress_bar


def _queue():
    from ..cloud.queue import CloudQueue
    from ..config import get_settings

    return CloudQueue.from_settings(get_settings())


def format_age(seconds: float) -> str:
    """A short age: 42s, 7m, 3h, 2d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.command("submit")
@click.option("--video-id", type=click.IntRange(min=1), required=True,
              help="The video's id in the local database.")
@click.option("--video-path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The video file (default: the registered video's path).")
@params_options
def cloud_submit(video_id: int, video_path: Path | None, sample_interval: int, confidence: float,
                 detector: str | None, prompts: tuple[str, ...]) -> None:
    """Upload a video to the bucket and queue a detection job for cloud workers."""
    from ..cloud.submit import submit_job

    params = build_params(sample_interval, confidence, detector, prompts)
    queue = _queue()
    with progress_bar("Uploading", unit="bytes") as update:
        manifest = submit_job(queue, video_id=video_id, video_path=video_path, params=params,
                              on_upload=lambda done, total: update(done, total))
    click.echo(f"Submitted job {manifest.job_id} for video {video_id} "
               f"({manifest.frames_total} frames to process).")
    click.echo("Next: start a worker with `bball worker --cloud` and watch it with `bball cloud status`.")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def cloud_status(as_json: bool) -> None:
    """List the bucket's jobs: status, progress, worker and age."""
    from ..cloud.manifest import parse_time

    queue = _queue()
    views = queue.list_jobs()
    now = queue.storage.now()
    if as_json:
        print_json([{"job_id": v.job_id, "problem": v.problem, "progress": v.progress,
                     **({"manifest": v.manifest.to_dict()} if v.manifest else {})} for v in views])
        return
    if not views:
        click.echo(f"No cloud jobs in bucket {queue.storage.bucket!r}. Submit one with: "
                   "bball cloud submit --video-id N")
        return
    rows = []
    for v in views:
        m = v.manifest
        if m is None:
            rows.append((v.job_id, "", "invalid", "", "", "", v.problem))
            continue
        total = m.frames_total if m.frames_total is not None else "?"
        age = format_age(now - (parse_time(m.created_at) or now))
        note = (m.error or "")[:70]
        rows.append((m.job_id, m.video_id, m.status.value, f"{v.frames_done}/{total}", m.worker_id or "", age,
                     note))
    columns = ["job", "video", "status", "progress", "worker", "age", "error"]
    print_table(f"Cloud jobs in {queue.storage.bucket}", columns, rows)


@click.command("cancel")
@click.option("--job-id", required=True, help="The cloud job to cancel.")
def cloud_cancel(job_id: str) -> None:
    """Cancel a pending, running or failed job; a worker running it stops and drops its results."""
    manifest = _queue().cancel(job_id)
    click.echo(f"Cancelled job {manifest.job_id}.")


@click.command("retry")
@click.option("--job-id", required=True, help="The failed cloud job to run again.")
def cloud_retry(job_id: str) -> None:
    """Put a failed job back to pending, with a fresh set of attempts."""
    manifest = _queue().retry(job_id)
    click.echo(f"Job {manifest.job_id} is pending again. Run a worker with: bball worker --cloud")


def attach(group: click.Group) -> None:
    """Add submit, status, cancel and retry to `bball cloud`."""
    for command in (cloud_submit, cloud_status, cloud_cancel, cloud_retry):
        group.add_command(command)

