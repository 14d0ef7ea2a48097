"""`bball analyze VIDEO`: one job run in this process, through the same lifecycle as a worker."""

from __future__ import annotations

import click

from .common import build_params, params_options, print_table


@click.command("analyze")
@click.argument("video")
@params_options
def analyze(video: str, sample_interval: int, confidence: float | None, detector: str | None,
            prompts: tuple[str, ...]) -> None:
    """Detect and track players in VIDEO (an id or a path, registered if needed)."""
    from ..analysis import analyze_video, queue_analysis
    from ..config import get_settings
    from .common import progress_bar

    params = build_params(sample_interval, confidence, detector, prompts)
    if get_settings().use_external_worker:
        job_id, video_id = queue_analysis(video, params)
        click.echo(f"USE_EXTERNAL_WORKER is set: queued job {job_id} for video {video_id}; "
                   "a running `bball worker` will process it.")
        return

    with progress_bar("Analyzing") as update:
        result = analyze_video(video, params, on_progress=update)
    s = result.stats.summary()
    click.echo(f"Video {result.video_id}: {result.file_name}" + (" (newly registered)" if result.registered else ""))
    print_table("Summary", ["frames", "detections", "tracks", "seconds", "frames/s", "detector"],
                [(s["frames"], s["detections"], s["tracks"], s["seconds"], s["fps"], s["detector"])])


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(analyze)
