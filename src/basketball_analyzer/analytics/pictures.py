"""Pictures of where players were: heatmaps on a drawn court (PNG) and a minimap beside the video (MP4)."""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from ..exceptions import AnalyticsError
from .court import CourtSpec, apply_homography
from .positions import load_path, load_positions, off_court_tracks, track_positions
from .possession import BALL_LABEL
from .tracks import iter_tracks, list_tracks, require_detections

PIXELS_PER_METRE = 16
MARGIN = 12
MAX_PLAYER_PANELS = 24


def team_colours(session: Session, video_id: int):
    """`TeamColours` from the stored `tracks` (a team's colour is the commonest of its tracks') with each track's
    player label, or None before `bball teams`."""
    from ..players.store import list_players
    from ..render import TeamColours

    rows = list_tracks(session, video_id)
    if not any(r.team for r in rows):
        return None
    colours = {team: Counter(r.color for r in rows if r.team == team and r.color).most_common(1)
               for team in ("A", "B")}
    labels = {tid: (f"#{p.number}" if p.number else f"P{p.player}") for p in list_players(session, video_id)
              for tid in p.tracks}
    return TeamColours({r.tracking_id: r.team for r in rows},
                       {team: c[0][0] for team, c in colours.items() if c}, labels=labels)


def _bgr(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[4:6], 16), int(value[2:4], 16), int(value[0:2], 16)


class CourtCanvas:
    """A top-down court drawing and the court-to-canvas scale."""

    def __init__(self, court: CourtSpec, scale: float | None = None):
        import cv2

        self.court = court
        self.scale = scale or PIXELS_PER_METRE / court.metres_per_unit
        self.width = int(round(court.length * self.scale)) + 2 * MARGIN
        self.height = int(round(court.width * self.scale)) + 2 * MARGIN
        img = np.zeros((self.height, self.width, 3), np.uint8)
        img[:] = (120, 170, 215)
        white = (245, 245, 245)
        L, W = court.length, court.width
        cv2.rectangle(img, self.px((0, 0)), self.px((L, W)), white, 2)
        cv2.line(img, self.px((L / 2, 0)), self.px((L / 2, W)), white, 2)
        cv2.circle(img, self.px((L / 2, W / 2)), int(court.center_radius * self.scale), white, 2)
        half = court.lane_width / 2
        for base, line in ((0.0, court.free_throw), (L, L - court.free_throw)):
            cv2.rectangle(img, self.px((min(base, line), W / 2 - half)), self.px((max(base, line), W / 2 + half)),
                          white, 2)
        self.image = img

    def px(self, xy) -> tuple[int, int]:
        """Canvas pixel of a court point."""
        return int(round(MARGIN + xy[0] * self.scale)), int(round(MARGIN + xy[1] * self.scale))

    def points(self, court_xy: np.ndarray) -> np.ndarray:
        """Canvas pixels (N, 2) of court points (N, 2)."""
        return MARGIN + np.asarray(court_xy, np.float64) * self.scale


def _heat_panel(canvas: CourtCanvas, court_xy: np.ndarray, title: str) -> np.ndarray:
    import cv2

    heat = np.zeros((canvas.height, canvas.width), np.float32)
    pts = canvas.points(court_xy)
    ok = np.isfinite(pts).all(axis=1)
    pts = np.round(pts[ok]).astype(int)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < canvas.width) & (pts[:, 1] >= 0) & (pts[:, 1] < canvas.height)
    np.add.at(heat, (pts[inside, 1], pts[inside, 0]), 1.0)
    sigma = max(2.0, 0.8 * canvas.scale * canvas.court.metres_per_unit)
    heat = cv2.GaussianBlur(heat, (0, 0), sigma)
    panel = canvas.image.copy()
    if heat.max() > 0:
        norm = (255 * heat / heat.max()).astype(np.uint8)
        coloured = cv2.applyColorMap(norm, cv2.COLORMAP_INFERNO)
        alpha = (norm.astype(np.float32) / 255.0)[..., None] ** 0.6
        panel = (panel * (1 - alpha) + coloured * alpha).astype(np.uint8)
    cv2.rectangle(panel, (0, 0), (panel.shape[1] - 1, 22), (20, 20, 20), -1)
    cv2.putText(panel, title, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def _require_court(session: Session, video_id: int) -> CourtSpec:
    loaded = load_path(session, video_id)
    if loaded is None:
        raise AnalyticsError(f"court pictures need a court calibration: run `bball court set {video_id} ...` first")
    return loaded[1]


def render_heatmap(session: Session, video_id: int, output: str | os.PathLike) -> tuple[Path, int]:
    """A PNG of heatmaps: one panel per team, then one per player (`bball players`; else per track) seen for a
    second or more (longest first); returns (path, panels)."""
    from ..players.store import list_players

    from ..render import check_output, write_png

    output = check_output(output, (".png",))
    video = require_detections(session, video_id)
    court = _require_court(session, video_id)
    teams = {t.tracking_id: t.team for t in list_tracks(session, video_id)}
    min_frames = max(1, int(video.fps or 1))  # a player panel for tracks seen a second or more
    canvas = CourtCanvas(court)
    per_team: dict[str, list[np.ndarray]] = {}
    people = list_players(session, video_id)
    owner = {tid: ("player", p.player) for p in people for tid in p.tracks}
    by_id = {p.player: p for p in people}
    spots: dict[object, list[np.ndarray]] = {}
    seen: dict[object, int] = {}
    off = off_court_tracks(session, video_id)
    for track in iter_tracks(session, video_id, exclude=(BALL_LABEL,)):
        if track.tracking_id in off:
            continue  # the bench, staff, crowd
        _, court_xy, inside = track_positions(session, video_id, track.tracking_id)
        court_xy = court_xy[inside]
        if not len(court_xy):
            continue
        team = teams.get(track.tracking_id)
        if team:
            per_team.setdefault(team, []).append(court_xy)
        key = owner.get(track.tracking_id, ("track", track.tracking_id))  # a player, or a track no player holds
        spots.setdefault(key, []).append(court_xy)
        seen[key] = seen.get(key, 0) + len(track.frames)
    panels = [_heat_panel(canvas, np.concatenate(per_team[t]), f"team {t}") for t in sorted(per_team)]
    ranked = sorted((k for k in spots if seen[k] >= min_frames), key=lambda k: (-seen[k], k))
    for kind, key in ranked[:MAX_PLAYER_PANELS]:
        title = (f"track {key}" + (f" team {teams[key]}" if teams.get(key) else "") if kind == "track" else
                 player_label(by_id[key]) + (f" team {by_id[key].team}" if by_id[key].team else ""))
        panels.append(_heat_panel(canvas, np.concatenate(spots[(kind, key)]), title))
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    sheet = np.full((rows * canvas.height, columns * canvas.width, 3), 32, np.uint8)
    for i, panel in enumerate(panels):
        r, c = divmod(i, columns)
        sheet[r * canvas.height:(r + 1) * canvas.height, c * canvas.width:(c + 1) * canvas.width] = panel
    write_png(sheet, output)
    return output, len(panels)


def player_label(player) -> str:
    """How a player is named in pictures: "#23 Ada Lovelace", "#23", or "player 4"."""
    if player.number is not None:
        return f"#{player.number}" + (f" {player.name}" if player.name else "")
    return player.name or f"player {player.player}"


def render_minimap(session: Session, video_id: int, output: str | os.PathLike, on_progress=None) -> Path:
    """An MP4: the video with team-coloured boxes, and beside it the court with a dot per player (and his jersey
    number, once `bball players` read it)."""
    import cv2

    from ..db.detections import load_detections
    from ..render import VIDEO_SUFFIXES, FrameAnnotator, FrameBoxes, check_output, h264_writer
    from ..results.runs import stored_run
    from ..video import FrameReader, probe

    output = check_output(output, VIDEO_SUFFIXES)
    video = require_detections(session, video_id)
    court = _require_court(session, video_id)
    colours = team_colours(session, video_id)
    from ..players.store import list_players

    numbers = {tid: p.number for p in list_players(session, video_id) if p.number is not None for tid in p.tracks}
    detections = load_detections(session, video_id)
    info = probe(video.path)
    interval = stored_run(session, video_id).sample_interval
    boxes = FrameBoxes(detections, info.frame_count, interval)
    spots = _positions_by_frame(load_positions(session, video_id))  # on the court only
    annotator = FrameAnnotator(trail_length=max(10, round(info.fps)), teams=colours)
    canvas = CourtCanvas(court)
    scale = info.height / canvas.height
    map_w = int(round(canvas.width * scale)) // 2 * 2
    court_img = cv2.resize(canvas.image, (map_w, info.height), interpolation=cv2.INTER_AREA)
    width = (info.width + map_w) // 2 * 2
    height = info.height // 2 * 2
    frames = 0
    with h264_writer(output, info.fps, width, height, crf=22) as write:
        for frame in FrameReader(video.path):
            det = boxes[frame.index]
            left = annotator.annotate(frame.image, det)
            right = court_img.copy()
            here = spots.get(frame.index) or spots.get(frame.index - frame.index % interval)
            if here is not None:
                ids, labels, xy = here
                pts = canvas.points(xy) * scale
                for (x, y), tid, label in zip(pts, ids.tolist(), labels.tolist()):
                    if not (np.isfinite(x) and np.isfinite(y)):
                        continue
                    colour = (0, 140, 255) if label == BALL_LABEL else (
                        _bgr(colours.palette[colours.indices(np.array([tid]))[0]]) if colours else (40, 40, 200))
                    cv2.circle(right, (int(x), int(y)), 6, colour, -1, cv2.LINE_AA)
                    cv2.circle(right, (int(x), int(y)), 6, (20, 20, 20), 1, cv2.LINE_AA)
                    if tid in numbers:  # the jersey number beside the dot
                        cv2.putText(right, numbers[tid], (int(x) + 8, int(y) + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                                    (20, 20, 20), 1, cv2.LINE_AA)
            image = np.zeros((height, width, 3), np.uint8)
            image[:, :info.width] = left[:height]
            image[:, info.width:] = right[:height, :width - info.width]
            write(image)
            frames += 1
            if on_progress:
                on_progress(frames, max(frames, info.frame_count))
    return output


def _positions_by_frame(positions) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """frame -> (tracking ids, labels, court xy) of the stored positions."""
    if positions is None or not len(positions):
        return {}
    order = np.argsort(positions.frame, kind="stable")
    frames = positions.frame[order]
    cuts = np.flatnonzero(np.diff(frames)) + 1
    return {int(f[0]): (i, lab, xy) for f, i, lab, xy in zip(
        np.split(frames, cuts), np.split(positions.tracking_id[order], cuts), np.split(positions.label[order], cuts),
        np.split(positions.xy[order], cuts))}


__all__ = ["CourtCanvas", "apply_homography", "render_heatmap", "render_minimap", "team_colours"]
