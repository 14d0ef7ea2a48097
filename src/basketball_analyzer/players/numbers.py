"""Jersey numbers: read with a CPU OCR on a sample of each track's torso crops, then voted per track.

The OCR is PP-OCRv4's text detection and recognition (ONNX Runtime, CPU) from `rapidocr-onnxruntime`, whose
wheel carries the models, so nothing is downloaded. A track's number is read on a few of its boxes, the
largest of each stretch of its life (`choose_samples`), not on every frame: a number does not change, and
the sample keeps a two-hour game to minutes of OCR. Numbers are read on the laptop after import, for every
detector and every clip already stored, not in the worker: the OCR is CPU work wherever it runs and needs the
pixels, which the laptop has. Measured (docs/benchmarks.md, "Jersey numbers"): 40 ms of CPU per crop, about
10 crops per second of video on the sample game, so a two-hour game is about 50 core-minutes (25 min on an
idle 2-core laptop); broadcast through the CPU detector about twice that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_BOX_HEIGHT = 60
"""Boxes shorter than this (pixels) are not read: their digits are a few pixels tall."""
MIN_SHARPNESS = 30.0
"""Least variance of the Laplacian of a torso crop worth reading: below it the crop is motion-blurred (or a
plain shirt with nothing printed on it)."""
UPSCALE = 3.0
"""Torso crops are enlarged this much before the OCR, which reads text a few tens of pixels tall."""
DET_MIN_SIDE = 320
"""The text detector's input is scaled so its shorter side is this (rapidocr's default, 736, is 5x slower
and reads no more digits on torso crops)."""
LINE_MARGIN = 0.3
"""Each found line of text is widened by this much of its height on both sides before it is recognised."""
MIN_READ_CONFIDENCE = 0.35
"""Reads the recogniser scores below this are dropped. A lone digit on a real shirt (Lillard's 0) scores
0.4-0.9 where a two-digit number on the sample game scores 0.99; the vote weighs what is kept."""
SAMPLES_PER_TRACK = 12
"""The most boxes read per track, spread over its life..."""
SECONDS_PER_SAMPLE = 1.0
"""...one per this many seconds of it, at least MIN_VOTES + 1 (a vote with one misread to spare)..."""
MIN_TRACK_SECONDS = 0.5
"""...and none on a track shorter than this: a CPU detector's broadcast tracks are mostly flickers in the
crowd (half of them under half a second), which would cost five times the reading for no number."""
VOTE_SHARE = 0.6
"""A track's number is the winner of its reads when the winner holds this share of their confidence..."""
MIN_VOTES = 2
"""...and was read at least this many times: one read alone is a hunch..."""
MIN_MEAN_CONFIDENCE = 0.5
"""...with this mean confidence: four reads of 0.45 are the recogniser guessing (a 7 seen on a suit and tie
in Lebron3Shot.mp4), where a real shirt's lone 0 averages 0.6."""
_DIGITS = re.compile(r"\d{1,2}")
_LOOKS_LIKE = str.maketrans({"O": "0", "o": "0"})  # the recogniser also knows letters; a lone 0 reads as O


@dataclass(frozen=True)
class NumberRead:
    """One OCR read of one torso crop: the digits ("0".."99", or "00") and the recogniser's confidence."""

    number: str
    confidence: float


@dataclass(frozen=True)
class NumberVote:
    """A track's vote: `number` only when it is clear (else None), `confidence` the winner's share of the
    reads' confidence, `reads` how many crops gave a number, `weights` the confidence summed per number."""

    number: str | None
    confidence: float
    reads: int
    weights: dict[str, float] = field(default_factory=dict)


def number_region(box_xyxy: Sequence[float]) -> tuple[float, float, float, float]:
    """Where a number sits in a person's box (x1, y1, x2, y2): the chest and belly, wider and taller than
    analytics.teams.torso_region's colour patch so that two digits and a turned body fit."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    w, h = x2 - x1, y2 - y1
    return x1 + 0.15 * w, y1 + 0.12 * h, x1 + 0.85 * w, y1 + 0.55 * h


def readable_box(box_xyxy: Sequence[float], image_shape: tuple[int, ...] | None = None) -> bool:
    """Whether a box is tall enough to read and (given the frame's shape) not cut by the frame's edge."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    if y2 - y1 < MIN_BOX_HEIGHT or x2 - x1 < MIN_BOX_HEIGHT * 0.25:
        return False
    if image_shape is None:
        return True
    height, width = image_shape[:2]
    return x1 >= 1 and y1 >= 1 and x2 <= width - 1 and y2 <= height - 1


def sharpness(image_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: low for a blurred (or featureless) patch."""
    import cv2

    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def torso_crop(image_bgr: np.ndarray, box_xyxy: Sequence[float]) -> np.ndarray | None:
    """The jersey's number region of one box, or None when the box is too small, cut by the frame's edge or
    too blurred to read."""
    if not readable_box(box_xyxy, image_bgr.shape):
        return None
    x1, y1, x2, y2 = (int(round(v)) for v in number_region(box_xyxy))
    crop = image_bgr[max(y1, 0):y2, max(x1, 0):x2]
    if crop.shape[0] < 8 or crop.shape[1] < 8 or sharpness(crop) < MIN_SHARPNESS:
        return None
    return crop


def choose_samples(frames: np.ndarray, xyxy: np.ndarray, samples: int = SAMPLES_PER_TRACK,
                   image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Indices (into the track's rows) of the boxes to read: the track's life cut into `samples` equal
    stretches of frames, and in each the tallest readable box (a tall box has large digits), in frame order."""
    frames = np.asarray(frames)
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    ok = np.flatnonzero([readable_box(b, image_shape) for b in xyxy])
    if not len(ok) or samples <= 0:
        return np.zeros(0, np.int64)
    first, last = int(frames[ok[0]]), int(frames[ok[-1]])
    stretch = np.minimum(((frames[ok] - first) * samples) // max(last - first + 1, 1), samples - 1)
    heights = xyxy[ok, 3] - xyxy[ok, 1]
    picked = [int(ok[in_stretch][np.argmax(heights[in_stretch])])
              for s in np.unique(stretch) for in_stretch in [stretch == s]]
    return np.array(sorted(picked), np.int64)


def samples_for(frames: np.ndarray, fps: float, most: int = SAMPLES_PER_TRACK) -> int:
    """How many of a track's boxes to read, from its span in frames (see `SECONDS_PER_SAMPLE`)."""
    fps = fps if fps and fps > 0 else 30.0
    span = (int(frames[-1]) - int(frames[0]) + 1) / fps if len(frames) else 0.0
    if span < MIN_TRACK_SECONDS or most <= 0:
        return 0
    return int(min(most, max(MIN_VOTES + 1, np.ceil(span / SECONDS_PER_SAMPLE))))


def parse_number(text: str) -> str | None:
    """The jersey number in one recognised text ("0".."99", "00"), or None when it is anything else."""
    text = text.strip().lstrip("#").replace(" ", "")
    if len(text) <= 2 and set(text) <= set("0123456789Oo"):
        text = text.translate(_LOOKS_LIKE)
    return text if _DIGITS.fullmatch(text) else None


def vote(reads: Iterable[NumberRead]) -> NumberVote:
    """A track's number from its reads, weighted by confidence; None unless one number holds `VOTE_SHARE` of
    the weight and was read at least `MIN_VOTES` times with a mean confidence of `MIN_MEAN_CONFIDENCE`."""
    weights: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in reads:
        weights[r.number] = weights.get(r.number, 0.0) + float(r.confidence)
        counts[r.number] = counts.get(r.number, 0) + 1
    total = sum(weights.values())
    if not weights or total <= 0:
        return NumberVote(None, 0.0, sum(counts.values()), weights)
    best = max(weights, key=lambda n: (weights[n], counts[n], n))
    share = weights[best] / total
    clear = (share >= VOTE_SHARE and counts[best] >= MIN_VOTES
             and weights[best] / counts[best] >= MIN_MEAN_CONFIDENCE)
    return NumberVote(best if clear else None, share, sum(counts.values()), weights)


class NumberReader:
    """Reads one jersey number per torso crop with rapidocr, loaded once, on first use."""

    def __init__(self, upscale: float = UPSCALE, min_confidence: float = MIN_READ_CONFIDENCE,
                 threads: int | None = None):
        self.upscale = upscale
        self.min_confidence = min_confidence
        self.threads = threads
        self._engine = None

    @property
    def engine(self):
        """The rapidocr engine (its ONNX sessions load here, about half a second)."""
        if self._engine is None:
            # ONNX Runtime (1.29 on) sends usage telemetry from Linux and macOS and leaves a session file in
            # the temporary folder unless told not to before it loads; game footage stays on this machine.
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
            from rapidocr_onnxruntime import RapidOCR

            threads = self.threads or -1  # -1: ONNX Runtime picks (all cores)
            self._engine = RapidOCR(det_limit_side_len=DET_MIN_SIDE, det_limit_type="min", print_verbose=False,
                                    intra_op_num_threads=threads, inter_op_num_threads=1)
        return self._engine

    def _prepare(self, crop: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.resize(crop, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC)

    def read(self, crop: np.ndarray) -> NumberRead | None:
        """The number on one torso crop (BGR), or None when none is read clearly: text lines are found on the
        enlarged crop, each is recognised, and the largest that reads as a number wins (the number is the
        largest print on a shirt; a team name or a sponsor is smaller, or not digits)."""
        import cv2

        engine = self.engine
        img = self._prepare(crop)
        boxes, _ = engine.text_det(img)
        if boxes is None or not len(boxes):
            return None
        lines = []
        for line in engine.get_crop_img_list(img, list(boxes)):
            # Shirt around the digits: the recogniser, trained on lines of text, misreads a lone digit cut
            # tight at its sides (a 4 as a +) more often.
            side = int(LINE_MARGIN * line.shape[0])
            lines.append(cv2.copyMakeBorder(line, 0, 0, side, side, cv2.BORDER_REPLICATE))
        # One crop's lines in one call: batching lines of many crops was slower on the CPU (measured).
        texts, _ = engine.text_rec(lines)
        best, best_area = None, 0.0
        for box, (text, score) in zip(boxes, texts):
            number, area = parse_number(text), _quad_area(box)
            if number is not None and score >= self.min_confidence and area > best_area:
                best, best_area = NumberRead(number, float(score)), area
        return best

    def read_many(self, crops: Sequence[np.ndarray]) -> list[NumberRead | None]:
        """`read` for each crop."""
        return [self.read(c) for c in crops]


def _quad_area(quad: np.ndarray) -> float:
    """Area of a text box's quadrilateral (4 x 2 points), by the shoelace formula."""
    x, y = np.asarray(quad, np.float64)[:, 0], np.asarray(quad, np.float64)[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


READ_BATCH = 16
"""Crops gathered while a video is decoded before they are read."""


def read_track_numbers(video_path: str | os.PathLike, tracks: Iterable, samples_per_track: int = SAMPLES_PER_TRACK,
                       reader: NumberReader | None = None,
                       on_progress: Callable[[int, int], None] | None = None) -> dict[int, NumberVote]:
    """Each track's number vote (tracks: analytics.tracks.TrackRows; balls are skipped), from a sample of its
    boxes (`samples_for`, at most `samples_per_track`) decoded in one pass over the video.
    `on_progress(done, total)` counts the sampled boxes."""
    from ..video import frames_at, probe

    reader = reader or NumberReader()
    info = probe(video_path)
    shape = (info.height, info.width) if info.width and info.height else None
    wanted: dict[int, list[tuple[int, np.ndarray]]] = {}
    votes: dict[int, list[NumberRead]] = {}
    for track in tracks:
        if track.label == "ball":
            continue
        votes[int(track.tracking_id)] = []
        count = samples_for(track.frames, info.fps, samples_per_track)
        for i in choose_samples(track.frames, track.xyxy, count, shape):
            wanted.setdefault(int(track.frames[i]), []).append((int(track.tracking_id), track.xyxy[i]))
    total = sum(len(v) for v in wanted.values())
    done = 0  # sampled boxes read, or passed over as unreadable
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        nonlocal done
        for (tid, _), read in zip(pending, reader.read_many([c for _, c in pending])):
            if read is not None:
                votes[tid].append(read)
        done += len(pending)
        pending.clear()
        if on_progress is not None:
            on_progress(done, total)

    if on_progress is not None:
        on_progress(0, total)
    for frame in frames_at(video_path, wanted):
        for tid, box in wanted.get(frame.index, ()):
            crop = torso_crop(frame.image, box)
            if crop is None:
                done += 1
            else:
                pending.append((tid, crop))
        if len(pending) >= READ_BATCH:
            flush()
    flush()
    if on_progress is not None and done < total:
        on_progress(total, total)  # frames past the stream's end: nothing left to read
    return {tid: vote(reads) for tid, reads in votes.items()}
