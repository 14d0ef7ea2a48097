"""`bball demo`: the full cloud round trip on this machine (local S3 server, one worker, import, teams, stats,
pictures)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .common import build_params, params_options, print_table


class _Printer:
    """The demo's progress (`DemoProgress`'s methods): a live bar on a terminal, else a line per quarter."""

    def __init__(self) -> None:
        from .common import console

        self.console = console(stderr=True)
        self.live = self.console.is_terminal
        self.number = 0
        self._bar = None
        self._task = None
        self._last_quarter = -1
        self._title = ""

    def stage(self, title: str) -> None:
        self.close()
        self.number += 1
        self._title = title
        self._last_quarter = -1
        self.console.print(f"[bold]{self.number}.[/bold] {title} …")

    def update(self, done: int, total: int | None, unit: str) -> None:
        if self.live:
            if self._bar is None:
                from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress,
                                           TimeElapsedColumn)

                counter = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
                self._bar = Progress(BarColumn(), counter, TimeElapsedColumn(), console=self.console,
                                     transient=True)
                self._bar.start()
                self._task = self._bar.add_task("", total=total)
            self._bar.update(self._task, completed=done, total=total)
            return
        if unit == "frames" and total:
            quarter = min(4, done * 4 // max(total, 1))
            if quarter > self._last_quarter:
                self._last_quarter = quarter
                self.console.print(f"   {done}/{total} {unit}")

    def stage_done(self, seconds: float, note: str = "") -> None:
        self.close()
        self.console.print(f"   done in {seconds:.1f} s" + (f" ({note})" if note else ""))

    def note(self, text: str) -> None:
        self.console.print(f"   {text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@click.command("demo")
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Use this video instead of the generated sample clip.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("bball-output"),
              show_default=True, help="Where the sample clip and the pictures go.")
@click.option("--local-storage", is_flag=True,
              help="Start the local S3 server even when R2 (or another bucket) is configured.")
@click.option("--sample-seconds", type=click.FloatRange(min=0.1, max=600), default=10.0, show_default=True,
              help="Length of the generated sample clip.")
@params_options
def demo(video: Path | None, output_dir: Path, local_storage: bool, sample_seconds: float,
         sample_interval: int, confidence: float | None, detector: str | None, prompts: tuple[str, ...]) -> None:
    """Run the whole cloud flow here: storage, submit, one worker, import, teams, stats, pictures.

    With no bucket configured it starts a local S3 server (SeaweedFS) in a temporary folder and stops it at
    the end. The video is registered in your database (DATABASE_URL, default ./basketball_analyzer.db) like
    any other, so `bball video list`, `bball export` and `bball render` work on it afterwards.
    """
    from ..demo import run_demo

    params = build_params(sample_interval, confidence, detector, prompts)
    printer = _Printer()
    started = time.perf_counter()
    try:
        result = run_demo(video=video, output_dir=output_dir, params=params, local_storage=local_storage,
                          sample_seconds=sample_seconds, progress=printer)
    finally:
        printer.close()
    total = time.perf_counter() - started
    click.echo()
    print_table("Demo summary", ["video", "cloud job", "frames", "detections", "tracks", "frames/s"],
                [(result.video_id, result.job_id, result.frames, result.detections, result.tracks,
                  round(result.fps, 1))])
    if result.tracks_cut:
        pieces = sum(n for n, _ in result.teams.values()) if result.teams else result.tracks
        click.echo(f"{result.tracks_cut} of the {result.tracks} tracks changed shirts midway (the tracker handed "
                   f"them from one player to another): cut there, {pieces} tracks from here on.")
    if result.teams:
        print_table("Teams (jersey colour)", ["team", "tracks", "colour"],
                    [(team, n, colour) for team, (n, colour) in result.teams.items()])
        click.echo(result.teams_message[:1].upper() + result.teams_message[1:] + ".")
    if result.players:
        print_table("Players (tracks joined by jersey number and continuity)",
                    ["player", "team", "number", "tracks", "frames"],
                    [(p.player, p.team or "", p.number or "", " ".join(map(str, p.tracks)), p.frames)
                     for p in result.players])
    report = result.stats
    if report is not None and report.teams:
        u = report.unit
        print_table("Stats per team", ["team", "tracks", "seconds on screen", f"distance ({u})",
                                       f"avg speed ({u}/s)", f"top speed ({u}/s)"],
                    [(t.team, t.tracks, round(t.seconds, 1), round(t.distance, 1), round(t.avg_speed, 2),
                      round(t.top_speed, 2)) for t in report.teams])
    print_table("Time per stage (s)", [*result.stage_seconds, "total"],
                [[round(s, 1) for s in result.stage_seconds.values()] + [round(total, 1)]])
    click.echo(f"Storage:   {result.storage}")
    click.echo(f"Database:  {result.database} (video {result.video_id})")
    click.echo(f"Video:     {result.mp4}")
    click.echo(f"Contact sheet: {result.png}")
    if result.heatmap:
        click.echo(f"Heatmaps:  {result.heatmap}")
    click.echo(f"Next: bball stats {result.video_id} · bball render {result.video_id} --minimap -o minimap.mp4 "
               "· bball serve · docs/demo.md")


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(demo)
