"""`bball cloud submit|status|cancel|retry|delete|gc`: the bucket job queue from the command line.

Every string that comes from the bucket (worker ids, errors, unreadable manifests) is shown literally:
rich markup escaped, control characters and terminal escape sequences shown as \\xNN (`shown`).
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import build_params, fail, params_options, print_json, print_table, progress_bar


def _queue():
    from ..cloud.queue import CloudQueue
    from ..config import get_settings

    return CloudQueue.from_settings(get_settings())


def shown(value, limit: int | None = None) -> str:
    """A bucket string as table text: printable and never read as rich markup."""
    from rich.markup import escape

    from ..logs import printable

    return escape(printable("" if value is None else str(value), limit))


def format_age(seconds: float) -> str:
    """A short age: 42s, 7m, 3h, 2d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.command("submit")
@click.option("--video-id", type=click.IntRange(min=1, max=2**31 - 1), default=None,
              help="The video's id in the local database (its registered file is uploaded).")
@click.option("--video-path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The video file: alone, it is registered if new; with --video-id, it must be that "
                   "video's file.")
@click.option("--segments", type=int, default=None,
              help="Split the video into this many segments that workers run in parallel (1: one job). "
                   "Default: one per 10 minutes of a video over 20 minutes.")
@click.option("--segment-minutes", type=float, default=None,
              help="Split the video into segments of about this many minutes (instead of --segments).")
@params_options
def cloud_submit(video_id: int | None, video_path: Path | None, segments: int | None,
                 segment_minutes: float | None, sample_interval: int, confidence: float | None,
                 detector: str | None, prompts: tuple[str, ...]) -> None:
    """Upload a video to the bucket and queue a detection job for cloud workers."""
    from ..cloud.submit import submit_job

    if video_id is None and video_path is None:
        raise click.UsageError("give --video-id, --video-path, or both")
    params = build_params(sample_interval, confidence, detector, prompts)
    queue = _queue()
    with progress_bar("Uploading", unit="bytes") as update:
        manifest = submit_job(queue, video_id=video_id, video_path=video_path, params=params,
                              on_upload=lambda done, total: update(done, total), segments=segments,
                              segment_minutes=segment_minutes)
    split = ""
    if manifest.segmented:
        how = "" if segments or segment_minutes else ", automatically: one per 10 minutes; --segments 1 for one"
        split = f" in {len(manifest.segment_ids)} segments{how}"
    click.echo(f"Submitted job {manifest.job_id} for video {manifest.video_id} "
               f"({manifest.frames_total} frames to process{split}).")
    click.echo("Next: start a worker with `bball worker --cloud` and watch it with `bball cloud status`.")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--segments", "with_segments", is_flag=True,
              help="Also list each segment of a segmented job: its frames, worker and progress.")
def cloud_status(as_json: bool, with_segments: bool) -> None:
    """List the bucket's jobs: status, progress, worker and age."""
    from ..cloud.manifest import parse_time
    from ..cloud.status import list_jobs

    queue = _queue()
    views = list_jobs(queue)
    now = queue.storage.now()
    if as_json:
        def as_dict(v) -> dict:
            return {"job_id": v.job_id, "status": v.status, "problem": v.problem, "progress": v.progress,
                    **({"manifest": v.manifest.to_dict()} if v.manifest else {}),
                    **({"segments": [as_dict(s) for s in v.segments]} if v.segments else {})}

        print_json([as_dict(v) for v in views])
        return
    if not views:
        click.echo(f"No cloud jobs in bucket {queue.storage.bucket!r}. Submit one with: "
                   "bball cloud submit --video-id N")
        return
    rows = []
    for v in views:
        m = v.manifest
        if m is None:
            rows.append((shown(v.job_id), "", "invalid", "", "", "", shown(v.problem, 120)))
            continue
        total = m.frames_total if m.frames_total is not None else "?"
        age = format_age(now - (parse_time(m.created_at) or now))
        worker = f"{len(v.segments)} segments" if m.segmented else shown(m.worker_id, 40)
        rows.append((m.job_id, m.video_id, v.status, f"{_frames_done(v)}/{total}", worker, age,
                     shown(v.problem, 160) if v.orphaned else shown(m.error, 70)))
        if with_segments:
            for seg in v.segments:
                sm = seg.manifest
                if sm is None or sm.segment is None:
                    continue
                where = f"  {sm.segment['index'] + 1}/{sm.segment['count']} frames " \
                        f"{sm.segment['start_frame']}-{sm.segment['end_frame']}"
                rows.append((where, "", sm.status.value, f"{_frames_done(seg)}/{sm.frames_total}",
                             shown(sm.worker_id, 40), f"try {sm.attempts}", shown(sm.error, 70)))
    columns = ["job", "video", "status", "progress", "worker", "age", "error"]
    print_table(f"Cloud jobs in {shown(queue.storage.bucket)}", columns, rows)


def _frames_done(view) -> int | str:
    """Frames done, or "?" when the worker's progress record is malformed (it is advisory, never fatal)."""
    done = view.frames_done
    return "?" if done is None else done


@click.command("cancel")
@click.option("--job-id", required=True, help="The cloud job to cancel.")
def cloud_cancel(job_id: str) -> None:
    """Cancel a pending, running, completed or failed job; a worker running it stops and drops its results."""
    manifest = _queue().cancel(job_id)
    click.echo(f"Cancelled job {manifest.job_id}.")


@click.command("retry")
@click.option("--job-id", required=True, help="The cloud job to run again.")
def cloud_retry(job_id: str) -> None:
    """Queue a completed, failed or cancelled job again, with a fresh set of attempts."""
    manifest = _queue().retry(job_id)
    click.echo(f"Job {manifest.job_id} is pending again. Run a worker with: bball worker --cloud")


@click.command("delete")
@click.option("--job-id", required=True, help="The cloud job to delete, in any state.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def cloud_delete(job_id: str, yes: bool) -> None:
    """Delete a job and all its files from the bucket (a worker running it stops and uploads nothing)."""
    from ..cloud.gc import delete_job
    from ..cloud.manifest import validate_job_id

    job_id = validate_job_id(job_id)
    queue = _queue()
    if not yes:
        click.confirm(f"Delete job {job_id} and all its files from bucket {queue.storage.bucket!r}?",
                      abort=True)
    count = delete_job(queue, job_id)
    click.echo(f"Deleted job {job_id} ({count} file(s)).")


@click.command("gc")
@click.option("--older-than", default="7d", show_default=True,
              help="Only what is older than this age (e.g. 7d, 12h, 30m, 0).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def cloud_gc(older_than: str, dry_run: bool) -> None:
    """Delete files of cancelled, failed and imported jobs, orphaned objects and unfinished uploads."""
    from ..cloud.gc import collect, parse_age

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    report = collect(_queue(), older_than=age, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    if report.items:
        print_table(f"{verb} (older than {older_than})", ["what", "kind", "bytes", "why"],
                    [(shown(i.name), i.kind, i.size, i.reason) for i in report.items])
    click.echo(f"{verb} {len(report.items)} item(s), {report.bytes:,} bytes.")
    if report.errors:
        print_table("Could not delete", ["what", "error"],
                    [(shown(e.split(": ", 1)[0]), shown(e.split(": ", 1)[-1], 120)) for e in report.errors])
        fail(f"{len(report.errors)} item(s) could not be deleted; run gc again")


def attach(group: click.Group) -> None:
    """Add submit, status, cancel, retry, delete and gc to `bball cloud`."""
    for command in (cloud_submit, cloud_status, cloud_cancel, cloud_retry, cloud_delete, cloud_gc):
        group.add_command(command)

