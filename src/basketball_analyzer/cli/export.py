"""`bball export VIDEO --format mot|csv [-o FILE]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("export")
@click.argument("video_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["mot", "csv"]), default="mot", show_default=True,
              help="mot: MOTChallenge rows for TrackEval / `trackers eval`; csv: the table's columns.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: stdout).")
def export(video_id: int, fmt: str, output: Path | None) -> None:
    """Export a video's stored detections."""
    from ..db import transaction
    from ..db.detections import load_detections
    from ..atomic import atomic_path
    from ..export import write_csv, write_mot
    from ..videos import get_video

    with transaction() as s:
        get_video(s, video_id)
        det = load_detections(s, video_id)
    writer = write_mot if fmt == "mot" else write_csv
    if output is None:
        writer(det, sys.stdout)
        return
    with atomic_path(output) as tmp, open(tmp, "w", newline="") as fh:
        n = writer(det, fh)
    click.echo(f"Wrote {n} detections to {output}", err=True)


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(export)
