"""Keeping track ids stable across pieces of a video tracked separately (segments, restarted runs).

Each piece is tracked from a fresh state, so its track ids start over. Consecutive pieces share a few frames
(the overlap); on those frames the previous piece's boxes already carry global ids, and the new piece's
boxes carry its local ids. Local tracks take over the global ids of previous tracks by an optimal
one-to-one assignment (Hungarian) on box IoU averaged over the shared frames; every other local track gets
a new id. (SAM 3 itself runs one continuous session per video and needs none of this.)
"""

from __future__ import annotations

import numpy as np

from ..detections import Detections


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes: shape (len(a), len(b))."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_tracks(previous: Detections, current: Detections, iou_threshold: float = 0.5) -> dict[int, int]:
    """Map current track ids to previous ones by their boxes on the frames both cover.

    A pair's score is the sum of per-frame IoUs divided by the number of shared frames on which either
    track appears, so a track present on only some of the overlap cannot claim a steady one. Each id is
    matched at most once, by the assignment with the highest total score; pairs below `iou_threshold` are
    not matched.
    """
    frames = np.intersect1d(np.unique(previous.frame_number), np.unique(current.frame_number))
    if len(frames) == 0:
        return {}
    previous = previous[np.isin(previous.frame_number, frames) & (previous.tracker_id >= 0)]
    current = current[np.isin(current.frame_number, frames) & (current.tracker_id >= 0)]
    prev_ids, cur_ids = np.unique(previous.tracker_id), np.unique(current.tracker_id)
    if len(prev_ids) == 0 or len(cur_ids) == 0:
        return {}
    iou_sum = np.zeros((len(cur_ids), len(prev_ids)))
    present_prev = np.zeros((len(frames), len(prev_ids)), bool)
    present_cur = np.zeros((len(frames), len(cur_ids)), bool)
    for fi, frame in enumerate(frames):
        p = previous[previous.frame_number == frame]
        c = current[current.frame_number == frame]
        pi = np.searchsorted(prev_ids, p.tracker_id)
        ci = np.searchsorted(cur_ids, c.tracker_id)
        present_prev[fi, pi] = True
        present_cur[fi, ci] = True
        if len(p) and len(c):
            np.add.at(iou_sum, (ci[:, None], pi[None, :]), box_iou(c.xyxy, p.xyxy))
    either = (present_cur[:, :, None] | present_prev[:, None, :]).sum(axis=0)
    score = iou_sum / np.maximum(either, 1)
    return _assign(score, cur_ids, prev_ids, iou_threshold)


def _assign(score: np.ndarray, cur_ids: np.ndarray, prev_ids: np.ndarray, threshold: float) -> dict[int, int]:
    """Optimal one-to-one matching maximising the summed score; pairs under `threshold` are dropped.

    Greedy best-first matching can take a pair that forces two others apart: with scores A-B 0.9, A-C 0.85
    and D-B 0.8 it takes A-B alone, where the Hungarian assignment takes A-C and D-B. Pairs below the
    threshold count as zero, so they never push a good pair out.
    """
    gain = np.where(score >= threshold, score, 0.0)
    candidates = gain > 0
    if (candidates.sum(axis=0) <= 1).all() and (candidates.sum(axis=1) <= 1).all():
        # No track has two candidates (the usual case): those pairs are the optimum, and scipy.optimize,
        # a second to import, is not needed.
        rows, cols = np.nonzero(candidates)
        return {int(cur_ids[r]): int(prev_ids[c]) for r, c in zip(rows, cols)}
    from scipy.optimize import linear_sum_assignment  # a declared dependency; imported only when needed

    rows, cols = linear_sum_assignment(gain, maximize=True)
    matches: dict[int, int] = {}
    for r, c in zip(rows, cols):
        if score[r, c] >= threshold:
            matches[int(cur_ids[r])] = int(prev_ids[c])
    return matches


class IdStitcher:
    """Hands out global track ids for a sequence of windows, carrying matched tracks over each boundary."""

    def __init__(self, iou_threshold: float = 0.5, first_id: int = 0):
        self.iou_threshold = iou_threshold
        self._next_id = first_id  # new ids start here (above the ids a previous stitcher handed out)
        self._local_to_global: dict[int, int] = {}

    def start_window(self, previous_tail: Detections, overlap: Detections) -> dict[int, int]:
        """Begin a window: `previous_tail` holds the overlap frames with global ids, `overlap` the same
        frames as tracked by the new window (local ids). Returns the local → global ids carried over."""
        self._local_to_global = match_tracks(previous_tail, overlap, self.iou_threshold)
        return dict(self._local_to_global)

    def to_global(self, local_ids: np.ndarray) -> np.ndarray:
        """Global ids for this window's local ids; a local id seen for the first time gets a new one."""
        out = np.empty(len(local_ids), np.int64)
        for i, local in enumerate(np.asarray(local_ids, np.int64).tolist()):
            if local < 0:
                out[i] = -1
                continue
            if local not in self._local_to_global:
                self._local_to_global[local] = self._allocate()
            out[i] = self._local_to_global[local]
        return out

    def _allocate(self) -> int:
        taken = set(self._local_to_global.values())
        while self._next_id in taken:
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1
