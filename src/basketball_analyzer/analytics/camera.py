"""Following the camera: each frame's image-to-court homography from a few calibrated keyframes.

From a keyframe the mapping is carried frame to frame by tracking points on the floor (Lucas-Kanade optical
flow, players' boxes and the broadcast's fixed overlays masked out) and fitting a homography from the
current frame to a reference frame with RANSAC. Points are tracked against the reference frame rather than
the previous one, so error does not add up frame after frame; only when too few points survive is a new
reference taken. Only the floor is tracked: its image moves by one homography however the camera moves,
while the stands (another plane, nearer or farther) move differently as soon as the camera slides. A cut
(a replay, another camera) loses the tracked points at once: the frames after it are unmapped until the
next keyframe, which also maps backwards to the cut. Between two keyframes both directions are blended.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .court import CourtSpec, apply_homography

WORK_WIDTH = 640  # tracking resolution: 2 cores follow 1280 x 720 at well over 60 frames/s
FLOOR_MARGIN = 2.0  # metres around the court still tracked as floor
MIN_POINTS = 12  # fewer surviving points than this (or than a fifth of the reference's) -> a new reference
STILL_PIXELS = 0.25  # points this close to where they were in the reference: the camera has not moved
LOST_FRACTION = 0.25  # fewer than this share of points surviving one frame: a cut, not motion
MIN_INLIERS = 0.3  # share of RANSAC inliers a fitted frame must have (players walk over tracked points)
UNMAPPED, KEYFRAME, TRACKED = 0, 1, 2
SOURCE_NAMES = {KEYFRAME: "keyframe", TRACKED: "tracked"}


@dataclass
class CameraPath:
    """Every frame's image-to-court homography (NaN where unmapped), how it was obtained, and why not."""

    matrices: np.ndarray  # (frames, 3, 3) float64
    source: np.ndarray  # (frames,) uint8: UNMAPPED, KEYFRAME or TRACKED
    breaks: dict[int, str]  # frame -> why tracking stopped before it (a cut, lost points)

    @classmethod
    def empty(cls, frames: int) -> "CameraPath":
        """A path with every frame unmapped."""
        return cls(np.full((frames, 3, 3), np.nan), np.zeros(frames, np.uint8), {})

    @property
    def frames(self) -> int:
        """Frames the path covers (the video's frame count)."""
        return len(self.source)

    def at(self, frame: int) -> np.ndarray | None:
        """The image-to-court homography of `frame`, or None when unmapped."""
        if not 0 <= frame < self.frames or self.source[frame] == UNMAPPED:
            return None
        return self.matrices[frame]

    def to_court(self, frames: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Image points (N, 2) of the given frames (N,) to court coordinates; NaN where a frame is unmapped."""
        frames = np.asarray(frames, np.int64)
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        out = np.full((len(frames), 2), np.nan)
        ok = (frames >= 0) & (frames < self.frames)
        ok[ok] = self.source[frames[ok]] != UNMAPPED
        if ok.any():
            m = self.matrices[frames[ok]]
            homog = np.einsum("nij,nj->ni", m, np.c_[xy[ok], np.ones(int(ok.sum()))])
            with np.errstate(divide="ignore", invalid="ignore"):
                out[ok] = homog[:, :2] / homog[:, 2:3]
        return out

    def unmapped_ranges(self) -> list[tuple[int, int, str]]:
        """(first, last + 1, reason) of each run of unmapped frames."""
        out, start = [], None
        for i, s in enumerate(np.append(self.source, KEYFRAME)):
            if s == UNMAPPED and start is None:
                start = i
            elif s != UNMAPPED and start is not None:
                reason = self.breaks.get(start) or ("before the first keyframe" if start == 0 else
                                                   "after a cut, before the next keyframe")
                out.append((start, i, reason))
                start = None
        return out

    def reason(self, frame: int) -> str | None:
        """Why `frame` is unmapped (None when it is mapped)."""
        for first, end, why in self.unmapped_ranges():
            if first <= frame < end:
                return why
        return None


def _normalised(m: np.ndarray) -> np.ndarray:
    return m / m[2, 2] if abs(m[2, 2]) > 1e-12 else m / np.linalg.norm(m)


class _Tracker:
    """Carries an image-to-court homography through consecutive frames of one direction (see module doc)."""

    def __init__(self, court: CourtSpec, scale: float, overlay: np.ndarray | None):
        self.court, self.scale, self.overlay = court, scale, overlay
        self.s = np.diag([scale, scale, 1.0])  # full-res -> work-res pixels
        self.s_inv = np.diag([1 / scale, 1 / scale, 1.0])

    def start(self, gray: np.ndarray, mapping: np.ndarray, boxes: np.ndarray) -> bool:
        """Take `gray` (work resolution) with its full-resolution mapping as the reference; False if no features."""
        import cv2

        self.ref_mapping = mapping
        mask = self._mask(gray.shape, mapping, boxes)
        pts = cv2.goodFeaturesToTrack(gray, maxCorners=400, qualityLevel=0.001, minDistance=6, mask=mask, blockSize=5)
        if pts is None or len(pts) < MIN_POINTS:
            return False  # a plain floor with players all over it: nothing to follow
        self.ref_pts = pts.reshape(-1, 2).astype(np.float32)
        self.cur_pts = self.ref_pts.copy()
        self.prev = gray
        self.seeded = len(self.ref_pts)
        return True

    def _mask(self, shape, mapping: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        import cv2

        h, w = shape
        c = self.court
        m = FLOOR_MARGIN / c.metres_per_unit
        floor = np.array([[-m, -m], [c.length + m, -m], [c.length + m, c.width + m], [-m, c.width + m]])
        to_image = self.s @ np.linalg.inv(mapping)
        # Clip the floor polygon to in front of the camera: map densely and keep finite points.
        edge = np.concatenate([np.linspace(floor[i], floor[(i + 1) % 4], 40) for i in range(4)])
        homog = np.c_[edge, np.ones(len(edge))] @ to_image.T
        front = homog[:, 2] > 1e-9
        mask = np.zeros((h, w), np.uint8)
        if front.sum() >= 3:
            pts = homog[front, :2] / homog[front, 2:3]
            pts = np.clip(pts, -4 * w, 5 * w).astype(np.int32)
            cv2.fillPoly(mask, [pts], 255)
        for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4) * self.scale:
            pad = 0.1 * (x2 - x1)
            cv2.rectangle(mask, (int(x1 - pad), int(y1 - pad)), (int(x2 + pad), int(y2 + pad)), 0, -1)
        if self.overlay is not None:
            mask[self.overlay] = 0
        return mask

    def step(self, gray: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        """Track into the next frame: (full-resolution mapping, None), or (None, why tracking broke)."""
        import cv2

        nxt, st, _ = cv2.calcOpticalFlowPyrLK(self.prev, gray, self.cur_pts.reshape(-1, 1, 2), None,
                                              winSize=(15, 15), maxLevel=3)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, self.prev, nxt, None, winSize=(15, 15), maxLevel=3)
        nxt, back = nxt.reshape(-1, 2), back.reshape(-1, 2)
        good = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - self.cur_pts, axis=1) < 1.0)
        survived = good.sum() / max(len(self.cur_pts), 1)
        if survived < LOST_FRACTION:
            return None, "a cut or a jump: the picture changed at once"
        ref, cur = self.ref_pts[good], nxt[good]
        if len(cur) < 8:
            return None, "too few points on the floor to follow"
        h, inliers = cv2.findHomography(cur, ref, cv2.USAC_MAGSAC, 1.5, maxIters=2000, confidence=0.999)
        if h is None or inliers is None or inliers.mean() < MIN_INLIERS:
            return None, "the floor's motion fits no camera motion (a cut?)"
        keep = inliers.ravel().astype(bool)
        self.ref_pts, self.cur_pts, self.prev = ref[keep], cur[keep], gray
        if np.median(np.linalg.norm(self.cur_pts - self.ref_pts, axis=1)) < STILL_PIXELS:
            h = np.eye(3)  # a still camera: fitting noise would only make it wander
        mapping = _normalised(self.ref_mapping @ self.s_inv @ h @ self.s)
        if len(self.cur_pts) < max(MIN_POINTS, self.seeded // 5):
            if not self.start(gray, mapping, boxes):
                return None, "too few points on the floor to follow"
        return mapping, None


def _work_size(width: int, height: int) -> tuple[int, int]:
    """The tracking resolution (w, h): at most WORK_WIDTH wide, even sizes for the scaler."""
    scale = min(1.0, WORK_WIDTH / width)
    return int(round(width * scale / 2)) * 2, int(round(height * scale / 2)) * 2


def static_overlay(path: str | Path, frame_count: int, size: tuple[int, int], samples: int = 16) -> np.ndarray | None:
    """Pixels that stay the same all video long while others change: the score bar and logos a broadcast draws.

    None when most edges are still (a fixed camera): then nothing is masked.
    """
    import cv2

    from ..video import frames_at

    picks = np.linspace(0, frame_count - 1, min(samples, frame_count)).astype(int)
    grays = [f.image.astype(np.float32) for f in frames_at(path, picks, size=size, gray=True)]
    if len(grays) < 4:
        return None
    stack = np.stack(grays)
    still = stack.std(axis=0) < 4.0
    edges = cv2.Canny(stack.mean(axis=0).astype(np.uint8), 40, 120) > 0
    if edges.sum() == 0 or (still & edges).sum() > 0.3 * edges.sum():
        return None  # most of the picture's edges never move: a fixed camera, and nothing to tell overlays by
    return cv2.dilate((still & edges).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0


BoxesFn = Callable[[int], np.ndarray]
"""Full-resolution xyxy boxes of the people in a frame (masked out of tracking)."""


def follow_camera(path: str | Path, keyframes: dict[int, np.ndarray], court: CourtSpec, frame_count: int,
                  width: int, height: int, boxes: BoxesFn | None = None,
                  on_progress: Callable[[int, int], None] | None = None) -> CameraPath:
    """Each frame's image-to-court homography of the video at `path`, from keyframes {frame: homography}.

    Forward from every keyframe to the next (or a cut, or the end), backward from every keyframe to the
    previous one (or a cut, or the start); where both reach a frame they are blended by distance.
    """
    from ..video import iter_frames

    boxes = boxes or (lambda _f: np.empty((0, 4)))
    size = _work_size(width, height)
    scale = size[0] / width
    overlay = static_overlay(path, frame_count, size)
    keys = sorted(k for k in keyframes if 0 <= k < frame_count)
    path_ = CameraPath.empty(frame_count)
    if not keys:
        return path_
    forward = np.full((frame_count, 3, 3), np.nan)
    backward = np.full((frame_count, 3, 3), np.nan)
    done, total = 0, 2 * frame_count

    def tick(n: int = 1) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(min(done, total), total)

    # Forward: one decode of the video from the first keyframe, restarting at each keyframe.
    tracker, active = _Tracker(court, scale, overlay), False
    for frame in iter_frames(path, start=keys[0], size=size, gray=True):
        i = frame.index
        gray = frame.image
        if i in keyframes:
            active = tracker.start(gray, _normalised(keyframes[i]), boxes(i))
            forward[i] = _normalised(keyframes[i])
        elif active:
            mapping, why = tracker.step(gray, boxes(i))
            if mapping is None:
                active = False
                path_.breaks.setdefault(i, why)
            else:
                forward[i] = mapping
        tick()
    # Backward: from each keyframe to the one before, decoding in chunks and walking each chunk in reverse.
    for n, key in enumerate(keys):
        stop = keys[n - 1] if n else 0
        tracker = _Tracker(court, scale, overlay)
        backward[key] = _normalised(keyframes[key])
        active = tracker.start(_frame(path, key, size), backward[key], boxes(key))
        for frame in _reverse(path, stop, key, size):
            if not active:
                break
            mapping, why = tracker.step(frame.image, boxes(frame.index))
            if mapping is None:
                path_.breaks.setdefault(frame.index + 1, why)
                break
            backward[frame.index] = mapping
            tick()
    _blend(path_, forward, backward, keys)
    if on_progress:
        on_progress(total, total)
    return path_


def _frame(path, index: int, size: tuple[int, int]) -> np.ndarray:
    from ..video import frames_at

    return next(iter(frames_at(path, [index], size=size, gray=True))).image


CHUNK = 120


def _reverse(path, stop: int, key: int, size: tuple[int, int]) -> Iterator:
    """Frames key-1 down to stop (inclusive), decoded forward in chunks of CHUNK frames."""
    from ..video import iter_frames

    end = key
    while end > stop:
        start = max(stop, end - CHUNK)
        chunk = list(iter_frames(path, start=start, end=end, size=size, gray=True))
        yield from reversed(chunk)
        end = start


def _blend(path_: CameraPath, forward: np.ndarray, backward: np.ndarray, keys: Iterable[int]) -> None:
    """Fill `path_` from both directions: the nearer keyframe's mapping weighs more where both reach."""
    keys = list(keys)
    fwd_ok = np.isfinite(forward[:, 0, 0])
    bwd_ok = np.isfinite(backward[:, 0, 0])
    prev_key = np.full(path_.frames, -1)
    next_key = np.full(path_.frames, -1)
    for k in keys:
        prev_key[k:] = k
    for k in reversed(keys):
        next_key[:k + 1] = k
    for i in range(path_.frames):
        if i in keys:
            path_.matrices[i], path_.source[i] = forward[i], KEYFRAME
        elif fwd_ok[i] and bwd_ok[i]:
            w = (i - prev_key[i]) / max(next_key[i] - prev_key[i], 1)
            path_.matrices[i], path_.source[i] = _normalised((1 - w) * forward[i] + w * backward[i]), TRACKED
        elif fwd_ok[i] or bwd_ok[i]:
            path_.matrices[i], path_.source[i] = (forward[i] if fwd_ok[i] else backward[i]), TRACKED
    for frame in list(path_.breaks):
        if path_.source[frame] != UNMAPPED:
            del path_.breaks[frame]  # the other direction reached it


__all__ = ["CameraPath", "apply_homography", "follow_camera", "static_overlay"]
