"""`bball teams`, `bball teams set`, `bball court set|show` and `bball stats`: the coach's questions."""

from __future__ import annotations

import csv
import sys

import click

from .common import BballGroup


class _DefaultGroup(BballGroup):
    """A group whose first argument is a VIDEO unless it names a subcommand (`teams 3` vs `teams set 3 7 A`)."""

    default_command = "show"

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [self.default_command, *args]
        return super().resolve_command(ctx, args)


def _video_id(session, ref: str) -> int:
    from ..render import find_video

    return find_video(session, ref).id


@click.group("teams", cls=_DefaultGroup, invoke_without_command=False)
def teams() -> None:
    """Assign tracks to two teams by jersey colour: `bball teams VIDEO`, or override one with `teams set`."""


@teams.command("show", hidden=True)
@click.argument("video")
@click.option("--samples", type=click.IntRange(min=1, max=200), default=12, show_default=True,
              help="Frames sampled per track for its jersey colour.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def teams_show(video: str, samples: int, as_json: bool) -> None:
    """Assign every track of VIDEO to team A, B or other (referees, bench) and store them in `tracks`."""
    from ..analytics.tracks import assign_teams
    from ..db import transaction
    from .common import print_json, print_table

    with transaction() as s:
        video_id = _video_id(s, video)
        report = assign_teams(s, video_id, samples=samples)
        rows = [(t.tracking_id, t.label, t.team or "unassigned", t.color or "", t.frames_seen, t.first_frame,
                 t.last_frame, t.team_source) for t in report.tracks]
    split = report.split
    if as_json:
        print_json({"video_id": video_id, "separated": split.separated, "separation": round(split.separation, 2),
                    "message": split.message, "sizes": report.sizes(),
                    "tracks": [dict(zip(("tracking_id", "label", "team", "color", "frames_seen", "first_frame",
                                         "last_frame", "team_source"), r)) for r in rows]})
        return
    sizes = report.sizes()
    colour = {r[2]: r[3] for r in rows}
    print_table(f"Teams of video {video_id}", ["team", "tracks", "colour"],
                [(team, sizes[team], colour.get(team, "") if team in ("A", "B") else "") for team in sorted(sizes)])
    print_table(None, ["track", "label", "team", "colour", "frames", "first", "last", "set by"], rows)
    click.echo(split.message.capitalize() + ".")


@teams.command("set")
@click.argument("video")
@click.argument("track", type=int)
@click.argument("team")
def teams_set(video: str, track: int, team: str) -> None:
    """Put TRACK of VIDEO in TEAM (A, B or other); later `bball teams` runs keep it."""
    from ..analytics.tracks import set_team
    from ..db import transaction

    with transaction() as s:
        row = set_team(s, _video_id(s, video), track, team)
        click.echo(f"Track {row.tracking_id} of video {row.video_id} is now in team {row.team}.")


@click.group("court", cls=BballGroup)
def court() -> None:
    """Calibrate a video's court (image points to court points) so positions are in metres or feet."""


@court.command("set")
@click.argument("video")
@click.argument("points", nargs=-1, required=True)
@click.option("--court", "court_name", type=click.Choice(["fiba", "nba"]), default="fiba", show_default=True,
              help="Court: fiba 28 x 15 m, nba 94 x 50 ft.")
def court_set(video: str, points: tuple[str, ...], court_name: str) -> None:
    """Fit VIDEO's court from 4+ POINTS `IMAGE_X,IMAGE_Y=LANDMARK` or `IMAGE_X,IMAGE_Y=COURT_X,COURT_Y`.

    Landmarks: far_left_corner, far_right_corner, near_left_corner, near_right_corner, midcourt_far,
    midcourt_near, center, left_ft_far, left_ft_near, left_ft_center, left_lane_far_baseline,
    left_lane_near_baseline and the same with right_. Far is the sideline away from the camera.
    Assumes a fixed camera.
    """
    from ..analytics.calibration import set_calibration
    from ..db import transaction

    with transaction() as s:
        video_id = _video_id(s, video)
        cal = set_calibration(s, video_id, list(points), court_name)
    unit = cal.court.unit
    click.echo(f"Calibrated video {video_id} on a {cal.court.name} court from {cal.points} points: reprojection "
               f"error {cal.rms_error:.3f} {unit} RMS, {cal.max_error:.3f} {unit} max.")


@court.command("show")
@click.argument("video")
def court_show(video: str) -> None:
    """Print VIDEO's stored court calibration."""
    from ..analytics.calibration import get_calibration
    from ..db import transaction
    from ..exceptions import NotFound

    with transaction() as s:
        video_id = _video_id(s, video)
        cal = get_calibration(s, video_id)
    if cal is None:
        raise NotFound(f"video {video_id} has no court calibration (run `bball court set {video_id} ...`)")
    click.echo(f"video {video_id}: {cal.court.name} court ({cal.court.unit}), {cal.points} points, "
               f"error {cal.rms_error:.3f} {cal.court.unit} RMS")


@click.command("stats")
@click.argument("video")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the per-track table as CSV.")
def stats(video: str, as_json: bool, as_csv: bool) -> None:
    """Per track and per team: time on screen, distance, average and top speed, possession."""
    from ..analytics.stats import video_stats
    from ..db import transaction
    from .common import print_json, print_table

    with transaction() as s:
        report = video_stats(s, _video_id(s, video))
    if as_json:
        print_json(report.to_dict())
        return
    u = report.unit
    track_cols = ["track", "label", "team", "seconds", f"distance ({u})", f"avg speed ({u}/s)",
                  f"top speed ({u}/s)"] + (["possession (s)", "possession %"] if report.possession else [])
    track_rows = [[r.tracking_id, r.label, r.team or "", round(r.seconds, 1), round(r.distance, 1),
                   round(r.avg_speed, 2), round(r.top_speed, 2)]
                  + ([round(r.possession_seconds or 0, 1), round(100 * (r.possession_share or 0), 1)]
                     if report.possession else []) for r in report.tracks]
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(track_cols)
        writer.writerows(track_rows)
        return
    print_table(f"Tracks of video {report.video_id}", track_cols, track_rows)
    if report.teams:
        print_table("Teams", ["team", "tracks", "seconds", f"distance ({u})", f"avg speed ({u}/s)",
                              f"top speed ({u}/s)"] + (["possession %"] if report.possession else []),
                    [[t.team, t.tracks, round(t.seconds, 1), round(t.distance, 1), round(t.avg_speed, 2),
                      round(t.top_speed, 2)] + ([round(100 * (t.possession_share or 0), 1)] if report.possession
                                                else []) for t in report.teams])
    for note in report.notes:
        click.echo(f"Note: {note}.")


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    for command in (teams, court, stats):
        cli.add_command(command)
