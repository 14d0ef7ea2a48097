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
    """Calibrate a video's court on one or more keyframes and follow the camera, so positions are in metres or feet."""


def _follow_bar(fixed: bool):
    from .common import progress_bar

    return progress_bar("Mapping frames" if fixed else "Following the camera", unit="frames")


@court.command("set")
@click.argument("video")
@click.argument("points", nargs=-1, required=True)
@click.option("--court", "court_name", type=click.Choice(["fiba", "nba"]), default="fiba", show_default=True,
              help="Court: fiba 28 x 15 m, nba 94 x 50 ft.")
@click.option("--frame", type=int, default=0, show_default=True, help="The frame the points were picked on.")
@click.option("--fixed-camera", is_flag=True, help="The camera never moves: one homography for every frame.")
def court_set(video: str, points: tuple[str, ...], court_name: str, frame: int, fixed_camera: bool) -> None:
    """Fit VIDEO's court on a keyframe from 4+ POINTS `IMAGE_X,IMAGE_Y=LANDMARK` or `IMAGE_X,IMAGE_Y=COURT_X,COURT_Y`,
    then follow the camera through the video from every keyframe.

    Landmarks: far_left_corner, far_right_corner, near_left_corner, near_right_corner, midcourt_far,
    midcourt_near, center, left_ft_far, left_ft_near, left_ft_center, left_lane_far_baseline,
    left_lane_near_baseline and the same with right_. Far is the sideline away from the camera.
    Add keyframes (another --frame) where the camera cut or the followed court drifts.
    """
    from ..analytics.calibration import set_calibration
    from ..analytics.positions import load_path
    from ..db import transaction

    with transaction() as s, _follow_bar(fixed_camera) as update:
        video_id = _video_id(s, video)
        cal = set_calibration(s, video_id, list(points), court_name, frame=frame, fixed_camera=fixed_camera,
                              on_progress=update)
        path = load_path(s, video_id)[0]
    unit = cal.court.unit
    click.echo(f"Calibrated video {video_id} at frame {frame} on a {cal.court.name} court from {cal.points} points: "
               f"reprojection error {cal.rms_error:.3f} {unit} RMS, {cal.max_error:.3f} {unit} max.")
    _echo_mapped(path)


def _echo_mapped(path) -> None:
    mapped = int((path.source > 0).sum())
    click.echo(f"Mapped {mapped} of {path.frames} frames.")
    for first, end, why in path.unmapped_ranges():
        click.echo(f"  unmapped: frames {first}..{end - 1} ({why})")


@court.command("follow")
@click.argument("video")
@click.option("--fixed-camera", is_flag=True, help="The camera never moves: one homography for every frame.")
def court_follow(video: str, fixed_camera: bool) -> None:
    """Follow the camera of VIDEO again from its keyframes (after a new import, say) and recompute positions."""
    from ..analytics.positions import follow
    from ..db import transaction

    with transaction() as s, _follow_bar(fixed_camera) as update:
        path = follow(s, _video_id(s, video), fixed=fixed_camera, on_progress=update)
    _echo_mapped(path)


@court.command("clear")
@click.argument("video")
def court_clear(video: str) -> None:
    """Delete VIDEO's keyframes, followed camera and court positions."""
    from ..analytics.positions import clear
    from ..db import transaction

    with transaction() as s:
        video_id = _video_id(s, video)
        n = clear(s, video_id)
    click.echo(f"Deleted {n} keyframe(s) of video {video_id}.")


@court.command("show")
@click.argument("video")
@click.option("--frame", type=int, default=None, help="The mapping in force at this frame.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (with --frame: that frame's mapping).")
def court_show(video: str, frame: int | None, as_json: bool) -> None:
    """Print VIDEO's keyframes, or with --frame the mapping in force there (exit 1 when the frame is unmapped)."""
    from ..analytics.positions import keyframes, load_path, mapping_at
    from ..db import transaction
    from ..exceptions import NotFound
    from .common import print_json, print_table

    with transaction() as s:
        video_id = _video_id(s, video)
        if frame is not None:
            m = mapping_at(s, video_id, frame)
        else:
            keys = keyframes(s, video_id)
            loaded = load_path(s, video_id)
    if frame is not None:
        if as_json:
            print_json(m.to_dict())
        elif m.matrix is not None:
            click.echo(f"video {video_id} frame {frame}: {m.source}, {m.court.name} court ({m.court.unit})")
            for row in m.matrix.tolist():
                click.echo("  " + "  ".join(f"{v: .6g}" for v in row))
        if m.matrix is None:
            raise click.ClickException(f"frame {frame} of video {video_id} is unmapped: {m.reason}")
        return
    if not keys:
        raise NotFound(f"video {video_id} has no court calibration (run `bball court set {video_id} ...`)")
    court_name = next(iter(keys.values())).court
    if as_json:
        print_json({"video": video_id, "court": court_name.name, "unit": court_name.unit,
                    "keyframes": [{"frame": k, "points": c.points, "rms_error": c.rms_error,
                                   "image_to_court": c.matrix.tolist()} for k, c in keys.items()],
                    "mapped_frames": None if loaded is None else int((loaded[0].source > 0).sum()),
                    "unmapped": [] if loaded is None else [{"start": a, "end": b, "reason": r}
                                                           for a, b, r in loaded[0].unmapped_ranges()]})
        return
    print_table(f"Video {video_id}: {court_name.name} court ({court_name.unit}), keyframes",
                ["frame", "points", f"RMS error ({court_name.unit})"],
                [(k, c.points, f"{c.rms_error:.3f}") for k, c in keys.items()])
    if loaded is None:
        click.echo(f"The camera is not followed yet: run `bball court follow {video_id}`.")
    else:
        _echo_mapped(loaded[0])


@click.command("stats")
@click.argument("video")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the per-track table as CSV.")
def stats(video: str, as_json: bool, as_csv: bool) -> None:
    """Per track, per player and per team: time on screen, distance, average and top speed, possession."""
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
    if report.players:
        print_table("Players", ["player", "team", "number", "name", "tracks", "seconds", f"distance ({u})",
                                f"avg speed ({u}/s)", f"top speed ({u}/s)"]
                    + (["possession (s)", "possession %"] if report.possession else []),
                    [[p.player, p.team or "", p.number or "", p.name or "", len(p.tracks), round(p.seconds, 1),
                      round(p.distance, 1), round(p.avg_speed, 2), round(p.top_speed, 2)]
                     + ([round(p.possession_seconds or 0, 1), round(100 * (p.possession_share or 0), 1)]
                        if report.possession else []) for p in report.players])
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
