"""Possession: the player nearest the ball, confirmed over a few frames, holds it until another one does.

The ball is a box labelled `ball` (SAM 3 prompted with "basketball"). A player is near it when the ball's
centre lies within `reach` player-heights of the player's box. One frame of nearness is not possession (a
pass flies past everyone): a player must be nearest for `confirm` video frames in a row (and at least two
stored frames of a sampled run), and keeps the ball while it is in flight or hidden for up to
`hold_seconds`; after that nobody has it (a shot, a loose ball, a dead ball). A stored frame counts for the
video frames it stands for (`sample_interval`), so a run that kept every third frame holds the ball as long
as one that kept them all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import math

import numpy as np

BALL_LABEL = "ball"
REACH = 0.35
CONFIRM_FRAMES = 3
HOLD_SECONDS = 1.0


def nearest_player(ball_xyxy: np.ndarray, player_xyxy: np.ndarray, reach: float = REACH) -> int:
    """Index of the player whose box is nearest the ball's centre within `reach` of its height, else -1."""
    if len(player_xyxy) == 0:
        return -1
    cx, cy = (ball_xyxy[0] + ball_xyxy[2]) / 2, (ball_xyxy[1] + ball_xyxy[3]) / 2
    p = np.asarray(player_xyxy, np.float64)
    dx = np.maximum(np.maximum(p[:, 0] - cx, 0), cx - p[:, 2])
    dy = np.maximum(np.maximum(p[:, 1] - cy, 0), cy - p[:, 3])
    height = np.maximum(p[:, 3] - p[:, 1], 1.0)
    gap = np.hypot(dx, dy) / height
    best = int(np.argmin(gap))
    return best if gap[best] <= reach else -1


@dataclass
class PossessionTracker:
    """Feed stored frames in order with `update`; `frames` counts possessed stored frames per track id (each
    stands for `sample_interval` video frames: `results.runs.StoredRun.frame_seconds`)."""

    fps: float
    sample_interval: int = 1  # video frames each stored frame stands for (`results.runs.stored_run`)
    confirm: int = CONFIRM_FRAMES
    hold_seconds: float = HOLD_SECONDS
    reach: float = REACH
    frames: Counter = field(default_factory=Counter)
    ball_frames: int = 0
    holder: int = -1
    _candidate: int = -1
    _streak: int = 0
    _last_seen: int | None = None

    def update(self, frame: int, ball_xyxy: np.ndarray | None, track_ids: np.ndarray,
               player_xyxy: np.ndarray) -> int:
        """Advance to `frame`; returns the track holding the ball after it (-1 for nobody)."""
        near = -1
        if ball_xyxy is not None:
            self.ball_frames += 1
            i = nearest_player(ball_xyxy, player_xyxy, self.reach)
            near = int(track_ids[i]) if i >= 0 else -1
        if near >= 0:
            self._streak = self._streak + 1 if near == self._candidate else 1
            self._candidate = near
            if self._streak >= self.confirm_streak:
                self.holder = near
            if near == self.holder:
                self._last_seen = frame
        else:
            self._candidate, self._streak = -1, 0
        if self.holder >= 0 and self._last_seen is not None and frame - self._last_seen > self.hold_seconds * self.fps:
            self.holder = -1
        if self.holder >= 0:
            self.frames[self.holder] += 1
        return self.holder

    @property
    def confirm_streak(self) -> int:
        """Stored frames in a row that confirm a new holder: `confirm` video frames, and never one alone."""
        return max(1 if self.sample_interval == 1 else 2, math.ceil(self.confirm / self.sample_interval))


def best_ball(boxes: np.ndarray, confidence: np.ndarray) -> np.ndarray | None:
    """The most confident ball box of a frame, or None."""
    if len(boxes) == 0:
        return None
    return np.asarray(boxes[int(np.argmax(confidence))], np.float64)
