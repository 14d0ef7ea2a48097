"""A synthetic game: two teams of five and a referee running known paths on a calibrated FIBA court.

The camera is a fixed homography from the court (metres) to the image, so every figure's true court
position, distance and speed are known exactly; the analytics are checked against them and the demo tells
its story with them. Figures are drawn like `sample.py`'s, scaled by perspective (nearer is taller). The
camera looks at one half court from close by, as a phone on the sideline would: a CPU detector's network
sees people only when they fill a good part of the frame (SSDLite reads 300 x 300 pixels).

Each team's players wear numbers printed on the shirt (one and two digits, distinct within a team; team B's
7 is team A's 7 too, as happens in real games); the referee wears none. With `exits=True`, four players run
past the view's right edge (into the other half court) for about two seconds and come back, as players leave
a real camera's picture, so a tracker loses them and a player id must join the pieces again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .analytics.court import COURTS, apply_homography
from .detections import Detections
from .sample import draw_player

COURT = COURTS["fiba"]
PLAYER_METRES = 1.95
TEAM_COLOURS = {"A": (40, 40, 200), "B": (150, 45, 20), "other": (35, 35, 35)}  # BGR: red, navy, black
VIEW_LENGTH = 14.0  # metres of the court's length in view: the left half
CALIBRATION_LANDMARKS = ("far_left_corner", "midcourt_far", "near_left_corner", "midcourt_near", "left_ft_near",
                         "left_ft_far")
NUMBERS = {"A": ("23", "7", "11", "4", "30"), "B": ("8", "33", "0", "14", "7")}
"""Shirt numbers by team, in `game_players` order."""
EXIT_TO = 17.0  # metres along the court: past the view's right edge (15.5 m near, 16.3 m far)
EXIT_EVERY = 12.0  # seconds: each leaving player's trips repeat, so a clip of any length has some
EXIT_SECONDS = 4.0  # one trip out and back: out of the picture for about two seconds of it (3 s at the edge)
EXIT_SHAPE = 1.1  # how long a trip stays at EXIT_TO: the sine is clipped at 1 above 1/EXIT_SHAPE
EXITS = (0.3, 2.3, 4.3, 6.3)  # when, in each cycle, the four rightmost players leave


@dataclass(frozen=True)
class GamePlayer:
    """One figure: its team and a figure-of-eight path around `centre` (metres), period `period` seconds; its
    shirt number; and, when `exit_at` is set, a run out of the picture `exit_at` seconds into every
    `EXIT_EVERY`-second cycle."""

    team: str
    centre: tuple[float, float]
    radius: tuple[float, float]
    period: float
    phase: float
    number: str | None = None
    exit_at: float | None = None

    def position(self, t: np.ndarray | float) -> np.ndarray:
        """Court position(s) (x, y) in metres at time(s) `t` seconds."""
        w = 2 * math.pi / self.period
        t = np.asarray(t, np.float64)
        x = self.centre[0] + self.radius[0] * np.sin(w * t + self.phase)
        y = self.centre[1] + self.radius[1] * np.sin(2 * w * t + self.phase)
        if self.exit_at is not None:
            u = np.mod(t - self.exit_at, EXIT_EVERY) / EXIT_SECONDS
            # Out towards EXIT_TO and back along a sine clipped at 1: a run, a stay past the edge, a run back.
            away = np.clip(EXIT_SHAPE * np.sin(math.pi * np.clip(u, 0, 1)), 0, 1) * (u < 1)
            x = x + away * (EXIT_TO - x)
        return np.stack([x, y], axis=-1)


def game_players(exits: bool = False) -> list[GamePlayer]:
    """Five of team A (red) and five of team B (navy), each team in both the far and the near row (a player
    far away is smaller and harder to see), spread along the court so that they seldom hide one another,
    and a referee by the near sideline. `exits`: the two rightmost of each team leave the picture now and
    then (see `EXITS`)."""
    players = []
    step = (VIEW_LENGTH - 2.5) / 4
    far, near = (5.0, 7.0), (11.5, 9.5)
    for i in range(5):
        a_row, b_row = (far, near) if i % 2 == 0 else (near, far)
        players.append(GamePlayer("A", (1.5 + step * i, a_row[i // 2 % 2]), (1.2, 0.8), 6.0 + i, i * 0.7,
                                  NUMBERS["A"][i]))
        players.append(GamePlayer("B", (2.3 + step * i, b_row[i // 2 % 2]), (1.2, 1.0), 5.0 + 0.8 * i, i * 1.1,
                                  NUMBERS["B"][i]))
    players.append(GamePlayer("other", (VIEW_LENGTH / 2, 14.0), (VIEW_LENGTH / 3, 0.3), 12.0, 0.3))
    if exits:
        leaving = (8, 9, 6, 7)  # A and B at x 13-14 m, then A and B at 10-11 m
        for index, at in zip(leaving, EXITS):
            players[index] = replace(players[index], exit_at=at)
    return players


def camera(width: int, height: int) -> np.ndarray:
    """The court-to-image homography of a raised sideline camera on the left half court (far side shorter)."""
    import cv2

    corners = np.float32([[0, 0], [VIEW_LENGTH, 0], [0, COURT.width], [VIEW_LENGTH, COURT.width]])
    seen = np.float32([[0.12 * width, 0.30 * height], [0.88 * width, 0.30 * height],
                       [0.01 * width, 0.97 * height], [0.99 * width, 0.97 * height]])
    return cv2.getPerspectiveTransform(corners, seen)


def draw_game_court(width: int, height: int, to_image: np.ndarray) -> np.ndarray:
    """Floor, stands and the court's lines through the camera (BGR)."""
    import cv2

    img = np.zeros((height, width, 3), np.uint8)
    img[:] = (200, 205, 210)  # stands: light, so dark-skinned figures stand out as on the floor
    outline = apply_homography(to_image, [[0, 0], [COURT.length, 0], [COURT.length, COURT.width], [0, COURT.width]])
    cv2.fillPoly(img, [outline.astype(np.int32)], (160, 200, 230))
    white = (245, 245, 245)

    def line(points):
        pts = apply_homography(to_image, points).astype(np.int32)
        cv2.polylines(img, [pts], False, white, 2, cv2.LINE_AA)

    line([[0, 0], [COURT.length, 0], [COURT.length, COURT.width], [0, COURT.width], [0, 0]])
    line([[COURT.length / 2, 0], [COURT.length / 2, COURT.width]])
    circle = [[COURT.length / 2 + COURT.center_radius * math.cos(a), COURT.width / 2 + COURT.center_radius * math.sin(a)]
              for a in np.linspace(0, 2 * math.pi, 40)]
    line(circle)
    half = COURT.lane_width / 2
    for x_base, x_line in ((0.0, COURT.free_throw), (COURT.length, COURT.length - COURT.free_throw)):
        line([[x_base, COURT.width / 2 - half], [x_line, COURT.width / 2 - half],
              [x_line, COURT.width / 2 + half], [x_base, COURT.width / 2 + half]])
    return img


def _box(to_image: np.ndarray, foot_court: np.ndarray) -> tuple[float, float, float, float]:
    """The figure's image box: foot point through the camera, height from the local scale."""
    a, b = apply_homography(to_image, [foot_court - [0.5, 0], foot_court + [0.5, 0]])
    scale = float(np.hypot(*(b - a)))  # pixels per metre here
    foot = apply_homography(to_image, [foot_court])[0]
    h = PLAYER_METRES * scale * 1.15  # a raised camera sees the figure a little taller than its width scale
    w = h * 0.42
    return (foot[0] - w / 2, foot[1] - h, foot[0] + w / 2, foot[1])


@dataclass(frozen=True)
class GameTruth:
    """The clip's ground truth: boxes (tracker_id = player index; a figure's whole box, none while it is wholly
    out of the picture), court positions (out of the picture too), teams, shirt numbers and camera."""

    boxes: Detections
    positions: np.ndarray  # (frames, players, 2) metres
    teams: list[str]
    to_image: np.ndarray  # court -> image
    fps: float
    numbers: list[str | None]

    def calibration_pairs(self) -> list[str]:
        """`bball court set` arguments that calibrate this clip exactly: IMAGE_X,IMAGE_Y=LANDMARK."""
        out = []
        for name in CALIBRATION_LANDMARKS:
            x, y = apply_homography(self.to_image, [COURT.landmarks[name]])[0]
            out.append(f"{x:.2f},{y:.2f}={name}")
        return out

    def path_length(self, player: int) -> float:
        """True distance (m) the player ran over the clip."""
        return float(np.linalg.norm(np.diff(self.positions[:, player], axis=0), axis=1).sum())

    def top_speed(self, player: int) -> float:
        """True top speed (m/s) over the clip."""
        steps = np.linalg.norm(np.diff(self.positions[:, player], axis=0), axis=1)
        return float(steps.max() * self.fps)


def render_game_frame(frame: int, fps: float, width: int, height: int, players: list[GamePlayer],
                      to_image: np.ndarray, court: np.ndarray) -> tuple[np.ndarray, Detections, np.ndarray]:
    """One frame: the image, the true boxes (none for a player out of the picture) and the court positions,
    far players drawn first."""
    t = frame / fps
    positions = np.stack([p.position(t) for p in players])
    boxes = [_box(to_image, pos) for pos in positions]
    img = court.copy()
    for i in np.argsort([b[3] for b in boxes]):
        draw_player(img, boxes[i], TEAM_COLOURS[players[i].team], frame, players[i].number)
    xyxy = np.array(boxes, np.float32)
    # Whole figures, also where one reaches past the edge (its foot point stays the true one), and none
    # for a figure wholly out of the picture.
    seen = np.flatnonzero((xyxy[:, 0] < width - 1) & (xyxy[:, 2] > 1) & (xyxy[:, 1] < height - 1) & (xyxy[:, 3] > 1))
    truth = Detections.for_frame(frame, xyxy[seen], np.ones(len(seen)), seen)
    return img, truth, positions


def make_game_clip(path: str | Path, frames: int = 150, width: int = 1280, height: int = 720,
                   fps: int = 30, exits: bool = False) -> GameTruth:
    """Write the synthetic game to `path` and return its ground truth; `exits`: players leave the picture and
    come back (see `game_players`)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    players = game_players(exits)
    to_image = camera(width, height)
    court = draw_game_court(width, height, to_image)
    truths, positions = [], []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(frames):
            img, truth, pos = render_game_frame(i, fps, width, height, players, to_image, court)
            truths.append(truth)
            positions.append(pos)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return GameTruth(Detections.merge(truths), np.stack(positions), [p.team for p in players], to_image, float(fps),
                     [p.number for p in players])
