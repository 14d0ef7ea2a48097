"""`bball render VIDEO -o OUT.mp4`, `--frames N -o OUT.png`, `--heatmap -o OUT.png`, `--minimap -o OUT.mp4`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("render")
@click.argument("video")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output file: .mp4/.mov/.mkv, or .png with --frames (default: VIDEO-annotated.mp4 / "
                   "VIDEO-sheet.png in the current folder).")
@click.option("--frames", type=click.IntRange(min=1), default=None,
              help="Write a contact sheet of N annotated frames (PNG) instead of a video.")
@click.option("--tile-width", type=click.IntRange(min=16), default=480, show_default=True,
              help="Width of each contact-sheet tile in pixels.")
@click.option("--heatmap", is_flag=True, help="Write heatmaps per team and per player on a drawn court (PNG); "
              "needs `bball court set`.")
@click.option("--minimap", is_flag=True, help="Write the video beside a 2-D court with a dot per player (MP4); "
              "needs `bball court set`.")
def render(video: str, output: Path | None, frames: int | None, tile_width: int, heatmap: bool,
           minimap: bool) -> None:
    """Draw VIDEO's stored detections: boxes, track ids, motion trails. VIDEO: an id or a registered path.

    Boxes take their team's colour once `bball teams` has run.
    """
    from ..analytics.pictures import render_heatmap, render_minimap, team_colours
    from ..db import transaction
    from ..db.detections import load_detections
    from ..exceptions import BballError, NotFound
    from ..render import find_video, render_contact_sheet, render_video
    from ..results.runs import stored_run
    from .common import progress_bar

    if sum(bool(x) for x in (frames, heatmap, minimap)) > 1:
        raise BballError("choose one of --frames, --heatmap and --minimap")
    if heatmap or minimap:
        with transaction() as s:
            v = find_video(s, video)
            name = Path(v.file_name).stem
            if heatmap:
                path, panels = render_heatmap(s, v.id, output or Path(f"{name}-heatmap.png"))
                click.echo(f"Wrote {path} ({panels} heatmaps)")
            else:
                with progress_bar("Rendering") as update:
                    path = render_minimap(s, v.id, output or Path(f"{name}-minimap.mp4"), on_progress=update)
                click.echo(f"Wrote {path}")
        return
    with transaction() as s:
        v = find_video(s, video)
        video_id, path, name = v.id, v.path, Path(v.file_name).stem
        det = load_detections(s, video_id)
        teams = team_colours(s, video_id)
        interval = stored_run(s, video_id).sample_interval
    if not len(det):
        raise NotFound(f"video {video_id} has no stored detections: run `bball analyze {video_id}` "
                       "or import its cloud results first")
    if frames is None:
        output = output or Path(f"{name}-annotated.mp4")
        with progress_bar("Rendering") as update:
            result = render_video(path, det, output, on_progress=update, teams=teams, sample_interval=interval)
        click.echo(f"Wrote {result.path} ({result.frames} frames, {result.width}x{result.height}, "
                   f"{result.boxes} boxes drawn)")
    else:
        output = output or Path(f"{name}-sheet.png")
        with progress_bar("Rendering", unit="tiles") as update:
            result = render_contact_sheet(path, det, output, frames=frames, tile_width=tile_width,
                                          on_progress=update, teams=teams, sample_interval=interval)
        click.echo(f"Wrote {result.path} ({result.frames} frames, {result.width}x{result.height})")


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(render)
