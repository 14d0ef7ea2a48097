"""A synthetic broadcast: a full FIBA court seen by a camera that pans across it and zooms, with known truth.

The camera is a real pinhole camera (position, look-at point, focal length) above the near side, so the floor
(a textured wooden court with painted lines and a logo), the stands (a crowd on a raked plane behind the far
sideline) and the figures are all seen through it consistently. A camera that only turns and zooms gives a
homography between any two frames; `dolly` also slides it along the sideline, as a rail camera does, so
the stands move differently from the floor (parallax). Players follow the play up and down the court as
the camera does, a bench and staff sit beyond the near sideline, and `cuts` switch to another camera for a
while (a replay angle). Truth: each frame's image-to-court homography, every figure's court position and
box, and whether it is on the court.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analytics.court import COURTS, apply_homography
from .detections import Detections
from .sample import draw_player
from .sample_game import PLAYER_METRES, TEAM_COLOURS

COURT = COURTS["fiba"]
PX_PER_M = 60  # floor texture resolution
APRON = 4.0  # metres of floor drawn around the court
STANDS_DEPTH = 9.0  # metres of raked stands behind the far sideline
CAMERA_BACK, CAMERA_HEIGHT = 10.0, 7.5  # metres beyond the near sideline, above the floor


@dataclass(frozen=True)
class Shot:
    """Where the camera is and looks at `t` seconds: centre (m), look-at point on the floor (m), focal length (px)."""

    centre: np.ndarray
    target: np.ndarray
    focal: float


def _look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (rows: right, down, forward) for a level camera looking at `target`."""
    forward = target - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, -1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def projection(shot: Shot, width: int, height: int) -> np.ndarray:
    """The 3 x 4 camera matrix of `shot` (world metres -> image pixels). World: x along the court, y towards the
    near sideline, z down (so that x, y are the product's court coordinates, seen unmirrored); the court is
    z = 0, 0..28 x 0..15."""
    k = np.array([[shot.focal, 0, width / 2], [0, shot.focal, height / 2], [0, 0, 1]])
    r = _look_at(shot.centre, shot.target)
    return k @ np.c_[r, -r @ shot.centre]


def floor_to_image(p: np.ndarray) -> np.ndarray:
    """Court (x, y) metres -> image, for z = 0."""
    return p[:, [0, 1, 3]]


def stands_to_image(p: np.ndarray) -> np.ndarray:
    """Stands texture (u along the court, v up the rake) metres -> image: the rake rises 1 m per 1.2 m back."""
    rake = np.array([[1, 0, 0], [0, -1.2 / math.hypot(1, 1.2), -1.0], [0, -1 / math.hypot(1, 1.2), 0], [0, 0, 1]])
    return p @ rake


def main_shot(t: float, duration: float, width: int, dolly: float = 0.0) -> Shot:
    """The main camera: pans between the two ends of the court (a full crossing in ~8 s), zooms in and out."""
    play_x = _play_x(t)
    centre = np.array([COURT.length / 2 + dolly * math.sin(2 * math.pi * t / 23.0),
                       COURT.width + CAMERA_BACK, -CAMERA_HEIGHT])
    target = np.array([play_x, COURT.width * 0.62 + 1.2 * math.sin(t / 5.0), 0.0])
    zoom = 1.1 + 0.25 * math.sin(2 * math.pi * t / 17.0)
    return Shot(centre, target, focal=width * 0.95 * zoom)


def replay_shot(t: float, width: int) -> Shot:
    """Another camera, behind the left baseline: what a cut to a replay angle shows."""
    return Shot(np.array([-9.0, COURT.width / 2 + 3, -5.0]), np.array([9.0 + 2 * math.sin(t), COURT.width / 2, 0.0]),
                focal=width * 1.1)


def _play_x(t: float) -> float:
    """Where the play is along the court: end to end and back, a possession each ~8 s."""
    return COURT.length / 2 + (COURT.length / 2 - 4.5) * math.sin(2 * math.pi * t / 16.0)


@dataclass(frozen=True)
class Figure:
    """A person: team (A, B, other = referee, bench = off the court), formation offset from the play, sway."""

    team: str
    offset: tuple[float, float]
    sway: tuple[float, float]
    period: float
    phase: float
    fixed: bool = False  # bench and staff stay where they sit

    def position(self, t: float) -> np.ndarray:
        """Court position (m) at `t` seconds."""
        w = 2 * math.pi / self.period
        base = np.array(self.offset) if self.fixed else np.array([_play_x(t) + self.offset[0], self.offset[1]])
        wiggle = np.array([self.sway[0] * math.sin(w * t + self.phase), self.sway[1] * math.sin(2 * w * t + self.phase)])
        if self.fixed:
            return base + wiggle
        return np.clip(base + wiggle, [0.4, 0.4], [COURT.length - 0.4, COURT.width - 0.4])  # play stays in bounds

    @property
    def on_court(self) -> bool:
        """Players and the referee are on the court; the bench and staff are not."""
        return self.team != "bench"


def figures() -> list[Figure]:
    """Ten players (two teams of five), a referee, and six people on the bench beyond the near sideline."""
    out = []
    spots = [(-5.0, 3.5), (-2.0, 8.0), (1.5, 11.5), (4.0, 5.0), (-3.5, 12.0)]
    for i, (dx, y) in enumerate(spots):
        out.append(Figure("A", (dx, y), (1.2, 0.9), 5.0 + i * 0.7, i * 0.9))
        out.append(Figure("B", (dx + 1.3, y + 0.9), (1.1, 1.0), 4.4 + i * 0.6, i * 1.3))
    out.append(Figure("other", (0.5, COURT.width - 0.8), (3.0, 0.2), 9.0, 0.4))
    for i in range(6):
        out.append(Figure("bench", (8.5 + 2.1 * i, COURT.width + 1.6), (0.15, 0.05), 3.0 + i, i, fixed=True))
    return out


def floor_texture() -> np.ndarray:
    """The floor in court metres (APRON around the court) at PX_PER_M: planks, grain, paint, lines and a logo."""
    import cv2

    rng = np.random.default_rng(7)
    w, h = int((COURT.length + 2 * APRON) * PX_PER_M), int((COURT.width + 2 * APRON) * PX_PER_M)
    img = np.zeros((h, w, 3), np.uint8)
    plank = int(0.12 * PX_PER_M)
    for y in range(0, h, plank):  # planks run along the court, each its own shade, with grain
        shade = np.array([120, 170, 215]) + rng.integers(-18, 18, 3)
        img[y:y + plank] = shade
        for _ in range(w // 90):
            x0 = int(rng.integers(0, w))
            cv2.line(img, (x0, y + int(rng.integers(0, plank))), (x0 + int(rng.integers(20, 120)), y + int(rng.integers(0, plank))),
                     tuple(int(c) for c in shade - rng.integers(10, 30, 3)), 1)
        for x in range(int(rng.integers(0, 400)), w, int(rng.integers(300, 500))):
            cv2.line(img, (x, y), (x, y + plank), tuple(int(c) for c in shade - 30), 1)  # plank ends
    noise = rng.normal(0, 5, (h, w, 1))
    img = np.clip(img + noise, 0, 255).astype(np.uint8)

    def px(x, y):
        return int(round((x + APRON) * PX_PER_M)), int(round((y + APRON) * PX_PER_M))

    cv2.rectangle(img, px(-APRON, -APRON), px(COURT.length + APRON, 0), (60, 90, 150), -1)  # painted apron
    cv2.rectangle(img, px(-APRON, COURT.width), px(COURT.length + APRON, COURT.width + APRON), (60, 90, 150), -1)
    half = COURT.lane_width / 2
    for x_base, x_line in ((0.0, COURT.free_throw), (COURT.length, COURT.length - COURT.free_throw)):
        a, b = px(min(x_base, x_line), COURT.width / 2 - half), px(max(x_base, x_line), COURT.width / 2 + half)
        cv2.rectangle(img, a, b, (40, 40, 170), -1)  # painted lane
    white, lw = (245, 245, 245), max(2, int(0.05 * PX_PER_M))
    cv2.rectangle(img, px(0, 0), px(COURT.length, COURT.width), white, lw)
    cv2.line(img, px(COURT.length / 2, 0), px(COURT.length / 2, COURT.width), white, lw)
    cv2.circle(img, px(COURT.length / 2, COURT.width / 2), int(COURT.center_radius * PX_PER_M), white, lw)
    cv2.circle(img, px(COURT.length / 2, COURT.width / 2), int(COURT.center_radius * PX_PER_M * 0.8), (150, 60, 20), -1)
    cv2.putText(img, "BBALL", (px(COURT.length / 2 - 1.2, COURT.width / 2 + 0.35)), cv2.FONT_HERSHEY_DUPLEX,
                PX_PER_M / 40, white, 3, cv2.LINE_AA)
    for x_base, sign in ((0.0, 1), (COURT.length, -1)):
        a, b = px(min(x_base, x_base + sign * COURT.free_throw), COURT.width / 2 - half)
        c, d = px(max(x_base, x_base + sign * COURT.free_throw), COURT.width / 2 + half)
        cv2.rectangle(img, (a, b), (c, d), white, lw)
        cv2.circle(img, px(x_base + sign * COURT.free_throw, COURT.width / 2), int(1.8 * PX_PER_M), white, lw)
        centre = px(x_base + sign * 1.575, COURT.width / 2)
        cv2.ellipse(img, centre, (int(6.75 * PX_PER_M), int(6.75 * PX_PER_M)), 0, -90 if sign > 0 else 90,
                    90 if sign > 0 else 270, white, lw)  # three-point arc
        for y in (0.9, COURT.width - 0.9):
            cv2.line(img, px(x_base, y), px(x_base + sign * 2.99, y), white, lw)
        cv2.putText(img, "HOME" if sign > 0 else "AWAY", px(x_base + sign * 9 - 1.5, 1.4), cv2.FONT_HERSHEY_SIMPLEX,
                    PX_PER_M / 45, (30, 30, 120), 3, cv2.LINE_AA)
    return img


def stands_texture() -> np.ndarray:
    """A crowd on the raked stands: rows of seated people in many colours on dark seats."""
    import cv2

    rng = np.random.default_rng(11)
    w, h = int((COURT.length + 2 * APRON + 20) * PX_PER_M), int(STANDS_DEPTH * PX_PER_M)
    img = np.full((h, w, 3), (45, 40, 38), np.uint8)
    row = int(0.8 * PX_PER_M)
    for y in range(row // 2, h, row):
        for x in range(int(rng.integers(0, 20)), w, int(0.55 * PX_PER_M)):
            if rng.random() < 0.12:
                continue  # an empty seat
            colour = tuple(int(c) for c in rng.integers(20, 235, 3))
            cx = x + int(rng.integers(-4, 4))
            cv2.ellipse(img, (cx, y + 6), (int(0.2 * PX_PER_M), int(0.25 * PX_PER_M)), 0, 0, 360, colour, -1)
            cv2.circle(img, (cx, y - int(0.22 * PX_PER_M)), int(0.1 * PX_PER_M), (60, 90, 150), -1)
    return img


def _texture_to_world_floor() -> np.ndarray:
    """Floor texture pixels -> court metres."""
    s = 1 / PX_PER_M
    return np.array([[s, 0, -APRON], [0, s, -APRON], [0, 0, 1]])


def _texture_to_stands() -> np.ndarray:
    """Stands texture pixels -> (u, v) metres; v = 0 is the stands' front (top of the image is the back row)."""
    s = 1 / PX_PER_M
    return np.array([[s, 0, -APRON - 10], [0, -s, STANDS_DEPTH], [0, 0, 1]])


@dataclass(frozen=True)
class BroadcastTruth:
    """The clip's truth: per-frame image-to-court homographies (None on another camera), figures and boxes."""

    to_court: list[np.ndarray | None]
    positions: np.ndarray  # (frames, figures, 2) metres
    teams: list[str]
    on_court: np.ndarray  # (figures,) bool
    boxes: Detections  # tracker_id = figure index; figures out of the picture are left out
    fps: float
    cuts: list[tuple[int, int]]

    def calibration_pairs(self, frame: int, landmarks: tuple[str, ...] | None = None) -> list[str]:
        """`bball court set --frame` arguments for `frame`: the landmarks in the picture, exactly placed."""
        to_image = np.linalg.inv(self.to_court[frame])
        out = []
        for name, point in COURT.landmarks.items():
            if landmarks is not None and name not in landmarks:
                continue
            x, y = apply_homography(to_image, [point])[0]
            if 0 <= x <= self.width and 0 <= y <= self.height:
                out.append(f"{x:.2f},{y:.2f}={name}")
        return out

    width: int = 1280
    height: int = 720


def make_broadcast_clip(path: str | Path, frames: int = 300, width: int = 1280, height: int = 720, fps: int = 30,
                        dolly: float = 0.0, cuts: list[tuple[int, int]] = (), crf: int = 20) -> BroadcastTruth:
    """Write the broadcast to `path`; `cuts` are (first, last + 1) frame ranges shown by the replay camera."""
    import av
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    floor, stands = floor_texture(), stands_texture()
    cast = figures()
    to_court, positions, truths = [], [], []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for i in range(frames):
            t = i / fps
            replay = any(a <= i < b for a, b in cuts)
            shot = replay_shot(t, width) if replay else main_shot(t, frames / fps, width, dolly)
            p = projection(shot, width, height)
            floor_h, stands_h = floor_to_image(p), stands_to_image(p)
            img = np.full((height, width, 3), (30, 30, 34), np.uint8)
            # The floor first: the raked stands rise over the floor behind their front row, never in front of it.
            cv2.warpPerspective(floor, floor_h @ _texture_to_world_floor(), (width, height), img,
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
            cv2.warpPerspective(stands, stands_h @ _texture_to_stands(), (width, height), img,
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
            pos = np.stack([f.position(t) for f in cast])
            boxes = [_box(p, xy) for xy in pos]
            seen = [k for k, b in enumerate(boxes) if b[2] > 0 and b[0] < width and b[3] > 0 and b[1] < height]
            for k in sorted(seen, key=lambda k: boxes[k][3]):  # far figures first
                draw_player(img, boxes[k], TEAM_COLOURS["other" if cast[k].team == "bench" else cast[k].team], i)
            if replay:
                cv2.putText(img, "REPLAY", (40, 60), cv2.FONT_HERSHEY_DUPLEX, 1.4, (255, 255, 255), 2)
            _overlay(img, i)
            to_court.append(None if replay else np.linalg.inv(floor_h))
            positions.append(pos)
            clipped = np.array([boxes[k] for k in seen], np.float32).reshape(-1, 4)
            clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
            clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
            truths.append(Detections.for_frame(i, clipped, np.ones(len(seen)), np.array(seen, np.int64)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return BroadcastTruth(to_court, np.stack(positions), [f.team for f in cast], np.array([f.on_court for f in cast]),
                          Detections.merge(truths), float(fps), list(cuts), width, height)


def _box(p: np.ndarray, foot: np.ndarray) -> tuple[float, float, float, float]:
    """A figure's image box: the foot point and the head 1.95 m above it through the camera."""
    pts = np.array([[foot[0], foot[1], 0, 1], [foot[0], foot[1], -PLAYER_METRES, 1]]) @ p.T
    (fx, fy), (_, hy) = pts[:, :2] / pts[:, 2:3]
    h = max(fy - hy, 1.0)
    return (fx - 0.21 * h, hy, fx + 0.21 * h, fy)


def _overlay(img: np.ndarray, frame: int) -> None:
    """The broadcast's score bar and logo, fixed on screen while the camera moves."""
    import cv2

    h, w = img.shape[:2]
    cv2.rectangle(img, (int(w * 0.62), int(h * 0.86)), (int(w * 0.95), int(h * 0.95)), (40, 20, 10), -1)
    cv2.putText(img, f"HOME 52  AWAY 49  Q3 {7 - frame // 300 % 7}:{59 - frame // 30 % 60:02d}",
                (int(w * 0.63), int(h * 0.92)), cv2.FONT_HERSHEY_SIMPLEX, h / 900, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.circle(img, (int(w * 0.93), int(h * 0.08)), int(h * 0.04), (200, 200, 200), 3)
