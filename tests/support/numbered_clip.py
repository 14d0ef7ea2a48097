"""Clips whose every frame says which frame it is: its number as a bar code across the top, and a box that jumps
to a new place each frame, so a screenshot or a canvas read in the browser tells which frame is on screen and
whether the overlay drew that frame's box or a neighbour's."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

BITS = 12          # frame numbers up to 4095
BAR_HEIGHT = 40    # the bar code's rows at the top of the frame
TIME_BASE = Fraction(1, 90000)
FLOOR = (150, 190, 215)  # BGR, a light wooden floor


def box_of(n: int, width: int, height: int) -> tuple[float, float, float, float]:
    """Frame n's box (x1, y1, x2, y2): consecutive frames' boxes lie at least 60 px apart."""
    w, h = 64.0, 96.0
    x = 30 + (n * 157) % (width - w - 60)
    y = BAR_HEIGHT + 30 + (n * 71) % (height - h - BAR_HEIGHT - 60)
    return x, y, x + w, y + h


def frame_image(n: int, width: int, height: int) -> np.ndarray:
    """Frame n: the bar code of n (white 1, black 0, least significant bit left) and a dark block in its box."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = FLOOR
    cell = width // BITS
    for b in range(BITS):
        img[:BAR_HEIGHT, b * cell:(b + 1) * cell] = 255 if (n >> b) & 1 else 0
    x1, y1, x2, y2 = (int(v) for v in box_of(n, width, height))
    img[y1 + 6:y2 - 6, x1 + 6:x2 - 6] = (60, 40, 30)
    return img


def read_number(image: np.ndarray) -> int:
    """The frame number a (possibly scaled) picture of a frame shows; image is H x W x 3."""
    h, w = image.shape[:2]
    cell = w / BITS
    row = image[int(h * BAR_HEIGHT / 360 / 2)]
    return sum(1 << b for b in range(BITS) if row[int((b + 0.5) * cell)].mean() > 128)


def make_numbered_clip(path: str | Path, times: list[float], width: int = 640, height: int = 360,
                       rate: float | Fraction = 30):
    """Write an H.264 MP4 whose N-th frame is shown at times[N] seconds and pictures N; returns the boxes
    (one per frame, track 1) as `Detections` numbered as the product numbers frames."""
    import av

    from basketball_analyzer.detections import Detections

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        stream.options = {"crf": "20", "preset": "veryfast"}
        for n, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(frame_image(n, width, height), format="bgr24")
            frame.pts, frame.time_base = round(t / TIME_BASE), TIME_BASE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    frames = np.arange(len(times))
    boxes = np.array([box_of(n, width, height) for n in frames], np.float32)
    return Detections.from_xywh(frames, np.ones(len(frames), int), boxes[:, 0], boxes[:, 1],
                                boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1], np.full(len(frames), 0.9))
