"""A synthetic basketball clip: drawn players moving over a court, with their true boxes.

Used by the demo when no video is given and by the tests. Both CPU detectors find these figures (head with
hair, jersey and shorts, arms, legs and shoes, about 130 px tall): OpenCV's HOG people detector and the
SSDLite network, which needs dark skin and shoes against a light floor and arms that swing less than the
legs before it scores a drawing as a person. The whole pipeline can then be checked against ground truth.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .detections import Detections

PLAYER_HEIGHT = 130


@dataclass(frozen=True)
class Player:
    """One figure's path: start position (top-left of its box), velocity in px/frame, shirt colour (BGR)."""

    x0: float
    y0: float
    vx: float
    vy: float
    color: tuple[int, int, int]


def default_players(width: int, height: int, count: int = 3) -> list[Player]:
    """`count` players spread over the court, moving in different directions, never overlapping."""
    colors = [(40, 40, 200), (200, 60, 30), (30, 160, 30), (160, 30, 160), (30, 150, 200), (90, 90, 90)]
    if count < 0:
        raise ValueError("players must be >= 0")
    lane = width / max(count, 1)
    players = []
    for i in range(count):
        players.append(Player(
            x0=lane * i + lane * 0.25, y0=height * 0.5 - PLAYER_HEIGHT / 2 + (i % 2) * 20 - 10,
            vx=(1.2 if i % 2 == 0 else -1.2), vy=(0.6 if i % 3 == 0 else -0.5), color=colors[i % len(colors)],
        ))
    return players


def player_box(p: Player, frame: int, width: int, height: int) -> tuple[float, float, float, float]:
    """The figure's box (x1, y1, x2, y2) at `frame`; paths bounce gently within the frame."""
    w = PLAYER_HEIGHT * 0.42
    x = p.x0 + 18 * math.sin(frame * p.vx / 18)
    y = p.y0 + 10 * math.sin(frame * p.vy / 10)
    x = min(max(x, 2), width - w - 2)
    y = min(max(y, 2), height - PLAYER_HEIGHT - 2)
    return (x, y, x + w, y + PLAYER_HEIGHT)


def draw_court(width: int, height: int) -> np.ndarray:
    """A wooden floor with court lines, BGR."""
    import cv2

    img = np.zeros((height, width, 3), np.uint8)
    img[:] = (160, 200, 230)
    for y in range(0, height, 24):
        cv2.line(img, (0, y), (width, y), (150, 190, 220), 1)
    cv2.rectangle(img, (10, 10), (width - 10, height - 10), (245, 245, 245), 3)
    cv2.line(img, (width // 2, 10), (width // 2, height - 10), (245, 245, 245), 3)
    cv2.circle(img, (width // 2, height // 2), min(width, height) // 8, (245, 245, 245), 3)
    return img


def draw_player(img: np.ndarray, box: tuple[float, float, float, float], color: tuple[int, int, int],
                frame: int, number: str | None = None) -> None:
    """A human figure filling `box`: head and hair, jersey and shorts in `color`, swinging arms and legs, shoes;
    `number` printed on the jersey in white."""
    import cv2

    x1, y1, x2, y2 = box
    h = y2 - y1
    cx = (x1 + x2) / 2
    skin, dark = (30, 45, 80), (30, 30, 30)
    swing = math.sin(frame / 4.0) * h * 0.06
    head_r = int(h * 0.075)
    head_c = (int(cx), int(y1 + head_r + 2))
    cv2.circle(img, head_c, head_r, skin, -1)
    cv2.ellipse(img, head_c, (head_r, head_r), 0, 180, 360, dark, -1)
    torso_top, torso_bot = y1 + h * 0.17, y1 + h * 0.50
    shoulder, hip = h * 0.13, h * 0.10  # half widths
    arm, leg = max(2, int(h * 0.07)), max(2, int(h * 0.09))
    feet = ((int(cx - hip / 2 - h * 0.06 - swing), int(y2 - 4)), (int(cx + hip / 2 + h * 0.06 + swing), int(y2 - 4)))
    for (fx, fy), side in zip(feet, (-1, 1)):
        cv2.line(img, (int(cx + side * hip / 2), int(torso_bot)), (fx, fy), skin, leg)
        cv2.ellipse(img, (fx + side * 2, fy), (int(h * 0.05), int(h * 0.025)), 0, 0, 360, dark, -1)
    jersey = np.array([[cx - shoulder, torso_top], [cx + shoulder, torso_top], [cx + hip, torso_bot],
                       [cx - hip, torso_bot]], np.int32)
    shorts = np.array([[cx - hip - 1, torso_bot - 2], [cx + hip + 1, torso_bot - 2], [cx + hip + 3, y1 + h * 0.66],
                       [cx + 1, y1 + h * 0.62], [cx - 1, y1 + h * 0.62], [cx - hip - 3, y1 + h * 0.66]], np.int32)
    cv2.fillPoly(img, [jersey, shorts], color)
    for side in (-1, 1):
        cv2.line(img, (int(cx + side * (shoulder - arm / 2)), int(torso_top + arm / 2)),
                 (int(cx + side * (shoulder + h * 0.04) - side * swing * 0.5), int(y1 + h * 0.48)), skin, arm)
    if number:
        draw_number(img, number, cx, y1 + h * 0.235, h * 0.15)


NUMBER_COLOUR = (245, 245, 245)


@functools.lru_cache(maxsize=256)
def _number_glyphs(number: str) -> np.ndarray:
    """`number` drawn once, large and bold, as a tight 0..1 coverage mask (scaled to each figure's size)."""
    import cv2

    font, scale, thick = cv2.FONT_HERSHEY_DUPLEX, 2.0, 7
    (tw, th), _ = cv2.getTextSize(number, font, scale, thick)
    patch = np.zeros((th + 4 * thick, tw + 4 * thick), np.uint8)
    cv2.putText(patch, number, (2 * thick, th + 2 * thick), font, scale, 255, thick, cv2.LINE_AA)
    rows, cols = np.nonzero(patch)
    return patch[rows.min():rows.max() + 1, cols.min():cols.max() + 1].astype(np.float32) / 255.0


def draw_number(img: np.ndarray, number: str, cx: float, top: float, height: float,
                colour: tuple[int, int, int] = NUMBER_COLOUR) -> None:
    """Jersey digits `height` px tall, centred on `cx` below `top`, condensed as printed numbers are; the part
    outside the image (a figure leaving the picture) is cut off."""
    import cv2

    glyphs = _number_glyphs(number)
    # Jersey digits are narrower than Hershey's (0.65 of their height wide), so two fit on a chest; narrower,
    # a 4 reads as an A.
    w, h = max(2, round(height * 0.65 * len(number))), max(2, round(height))
    mask = cv2.resize(glyphs, (w, h), interpolation=cv2.INTER_AREA)
    x0, y0 = round(cx - w / 2), round(top)
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + w, img.shape[1]), min(y0 + h, img.shape[0])
    if xb <= xa or yb <= ya:
        return
    a = mask[ya - y0:yb - y0, xa - x0:xb - x0, None]
    region = img[ya:yb, xa:xb]
    region[:] = (region * (1 - a) + np.array(colour, np.float32) * a).astype(np.uint8)


def render_frame(frame: int, width: int, height: int, players: list[Player],
                 court: np.ndarray | None = None) -> tuple[np.ndarray, Detections]:
    """One frame of the clip and the true boxes in it (tracker_id = player index)."""
    img = (court if court is not None else draw_court(width, height)).copy()
    boxes = [player_box(p, frame, width, height) for p in players]
    for p, box in zip(players, boxes):
        draw_player(img, box, p.color, frame)
    truth = Detections.for_frame(frame, np.array(boxes, np.float32).reshape(-1, 4), np.ones(len(boxes)),
                                 np.arange(len(boxes)))
    return img, truth


TIME_BASE = Fraction(1, 90000)
"""The sample clips' timestamp unit (MPEG's 90 kHz clock): any rate's frame times land within 6 µs."""


def frame_times(frames: int, fps: float | Fraction = 30, dropped: Iterable[int] = (), start_time: float = 0.0,
                variable: bool = False) -> list[tuple[int, float]]:
    """(drawn frame, presentation time in s) of each frame a clip holds, in order.

    `dropped`: drawn frames left out with a gap in presentation time where they were, as a camera that drops
    frames writes them. `start_time`: the first frame's timestamp (phone and broadcast files rarely start at 0).
    `variable`: gaps between frames vary from 0.6 to 1.4 of the nominal one (a phone's variable rate), with
    the drawing following time, as a real scene does.
    """
    period = 1 / float(fps)
    skip = set(dropped)
    out, t = [], start_time
    for i in range(frames):
        if i not in skip:
            out.append((i, t))
        t += period * (1 + 0.4 * math.sin(i * 1.7)) if variable else 0
    if not variable:
        out = [(i, start_time + i * period) for i, _ in out]
    return out


def make_sample_clip(path: str | Path, frames: int = 60, width: int = 640, height: int = 360,
                     fps: int | Fraction = 30, players: int = 3, codec: str = "libx264",
                     dropped: Iterable[int] = (), start_time: float = 0.0, variable: bool = False) -> Detections:
    """Write a synthetic clip to `path` (container from the suffix) and return its ground-truth boxes.

    `fps` may be a fraction (30000/1001); `dropped`, `start_time` and `variable` make the timestamps real
    files have (see `frame_times`). The truth is numbered as the product numbers frames: the N-th frame in
    the file is frame N, whichever drawn frame it shows.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cast = default_players(width, height, players)
    court = draw_court(width, height)
    truths = []
    plain = not (set(dropped) or start_time or variable)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if not plain:
            stream.codec_context.time_base = TIME_BASE
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "veryfast"}
        for number, (drawn, t) in enumerate(frame_times(frames, fps, dropped, start_time, variable)):
            img, truth = render_frame(drawn, width, height, cast, court)
            truth.frame_number[:] = number
            truths.append(truth)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            if not plain:
                frame.pts, frame.time_base = round(t / TIME_BASE), TIME_BASE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Detections.merge(truths)
