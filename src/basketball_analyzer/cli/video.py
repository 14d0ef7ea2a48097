"""`bball video add|list|show`."""

from __future__ import annotations

from pathlib import Path

import click

from .common import print_json, print_table


@click.group("video")
def video_group() -> None:
    """Register and inspect videos."""


@video_group.command("add")
@click.argument("path", type=click.Path(path_type=Path))
def video_add(path: Path) -> None:
    """Probe, hash and register a video; prints its id."""
    from contextlib import nullcontext

    from ..db import transaction
    from ..videos import register_video, video_file
    from .common import progress_bar

    path = video_file(path)
    big = path.stat().st_size > 64 << 20  # hashing takes seconds from here on
    with transaction() as s, (progress_bar("Hashing", unit="bytes") if big else nullcontext()) as update:
        reg = register_video(s, path, on_hash_progress=update)
        vid, name = reg.video.id, reg.video.file_name
    if reg.created:
        click.echo(f"Registered video {vid}: {name}")
    else:
        click.echo(f"Already registered as video {vid}: {name}")


@video_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def video_list(as_json: bool) -> None:
    """List registered videos."""
    from ..db import transaction
    from ..videos import list_videos

    with transaction() as s:
        videos = list_videos(s)
        rows = [(v.id, v.file_name, f"{v.width}x{v.height}", round(v.fps, 2), v.frame_count,
                 round(v.duration, 1), v.created_at.strftime("%Y-%m-%d %H:%M")) for v in videos]
    if as_json:
        print_json([dict(zip(["id", "file_name", "size", "fps", "frames", "duration", "created_at"], r))
                    for r in rows])
    elif not rows:
        click.echo("No videos yet. Add one with: bball video add PATH")
    else:
        print_table("Videos", ["id", "file", "size", "fps", "frames", "seconds", "added"], rows)


@video_group.command("show")
@click.argument("video_id", type=int)
def video_show(video_id: int) -> None:
    """Show one video's details and detection counts."""
    from ..db import transaction
    from ..db.detections import count_detections
    from ..videos import get_video, video_timing

    with transaction() as s:
        v = get_video(s, video_id)
        n = count_detections(s, video_id=video_id)
        rows = [("id", v.id), ("file", v.file_name), ("path", v.path), ("size", f"{v.size_bytes:,} bytes"),
                ("sha256", v.sha256), ("resolution", f"{v.width}x{v.height}"), ("fps", round(v.fps, 3)),
                ("frame rate", _rate_text(video_timing(v))), ("frames", v.frame_count),
                ("duration", f"{v.duration:.2f} s"), ("codec", v.codec), ("detections", n), ("added", v.created_at)]
    print_table(f"Video {video_id}", ["field", "value"], rows)


def _rate_text(timing) -> str:
    if timing.mode == "unknown":
        return "unknown (the file was not there when timing was first read: `bball video add` it again)"
    first = f"first frame at {timing.start:.3f} s"
    if timing.mode == "constant":
        return f"constant, {timing.rate:.3f} fps, {first}"
    return f"variable, {timing.rate:.3f} fps on average, {first}"


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(video_group)
