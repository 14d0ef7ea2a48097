"""A synthetic game: two teams of five and a referee running known paths on a calibrated FIBA court.

The camera is a fixed homography from the court (metres) to the image, so every figure's true court
position, distance and speed are known exactly; the analytics are checked against them and the demo tells
its story with them. Figures are drawn like `sample.py`'s, scaled by perspective (nearer is taller). The
camera looks at one half court from close by, as a phone on the sideline would: a CPU detector's network
sees people only when they fill a good part of the frame (SSDLite reads 300 x 300 pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class GamePlayer:
    """One figure: its team and a figure-of-eight path around `centre` (metres), period `period` seconds."""

    team: str
    centre: tuple[float, float]
    radius: tuple[float, float]
    period: float
    phase: float

    def position(self, t: np.ndarray | float) -> np.ndarray:
        """Court position(s) (x, y) in metres at time(s) `t` seconds."""
        w = 2 * math.pi / self.period
        t = np.asarray(t, np.float64)
        x = self.centre[0] + self.radius[0] * np.sin(w * t + self.phase)
        y = self.centre[1] + self.radius[1] * np.sin(2 * w * t + self.phase)
        return np.stack([x, y], axis=-1)


def game_players() -> list[GamePlayer]:
    """Five of team A (red) and five of team B (navy), each team in both the far and the near row (a player
    far away is smaller and harder to see), spread along the court so that they seldom hide one another,
    and a referee by the near sideline."""
    players = []
    step = (VIEW_LENGTH - 2.5) / 4
    far, near = (5.0, 7.0), (11.5, 9.5)
    for i in range(5):
        a_row, b_row = (far, near) if i % 2 == 0 else (near, far)
        players.append(GamePlayer("A", (1.5 + step * i, a_row[i // 2 % 2]), (1.2, 0.8), 6.0 + i, i * 0.7))
        players.append(GamePlayer("B", (2.3 + step * i, b_row[i // 2 % 2]), (1.2, 1.0), 5.0 + 0.8 * i, i * 1.1))
    players.append(GamePlayer("other", (VIEW_LENGTH / 2, 14.0), (VIEW_LENGTH / 3, 0.3), 12.0, 0.3))
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
    """The clip's ground truth: boxes (tracker_id = player index), court positions, teams and camera."""

    boxes: Detections
    positions: np.ndarray  # (frames, players, 2) metres
    teams: list[str]
    to_image: np.ndarray  # court -> image
    fps: float

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
    """One frame: the image, the true boxes and the court positions, far players drawn first."""
    t = frame / fps
    positions = np.stack([p.position(t) for p in players])
    boxes = [_box(to_image, pos) for pos in positions]
    img = court.copy()
    for i in np.argsort([b[3] for b in boxes]):
        draw_player(img, boxes[i], TEAM_COLOURS[players[i].team], frame)
    truth = Detections.for_frame(frame, np.array(boxes, np.float32), np.ones(len(boxes)), np.arange(len(boxes)))
    return img, truth, positions


def make_game_clip(path: str | Path, frames: int = 150, width: int = 1280, height: int = 720,
                   fps: int = 30) -> GameTruth:
    """Write the synthetic game to `path` and return its ground truth."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    players = game_players()
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
    return GameTruth(Detections.merge(truths), np.stack(positions), [p.team for p in players], to_image, float(fps))
