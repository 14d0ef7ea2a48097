"""Tracks that change people midway, cut where the shirt changes for good.

When two players cross, a tracker that associates boxes by overlap (ByteTrack; SAM 3 more rarely) can hand a
track from one to the other. A track that holds two people cannot be given to one player, so no joining can
be right about it: on the sample game's CPU run 6 of 35 tracks switch people (the referee's track goes on with
#8, then #7), and a perfect joining of the uncut tracks reaches IDF1 0.713. Most switches are between
players of different teams, or a player and a referee: the shirt colour changes, and stays changed.

Each track's torso colour (analytics/teams.torso_colour) is sampled every `SAMPLE_EVERY` frames; `find_cuts`
then looks for the frames where the median colour of the second before and of the second after differ most
(one pass along the track), and cuts there only when the pieces differ by `MIN_DELTA_E` or more
(teams.GROUP_DELTA_E: different jerseys), each lasts `MIN_SECONDS` or more (a player passing in front for
half a second is no switch), and most samples of each piece are nearer its own colour than its neighbour's.
The boxes from a cut on get a new tracking id in `player_detections` (and in `player_positions`), so every
later answer sees the two people apart. Two players of one team swapping is not found here: their shirts
are one colour. Measured in docs/benchmarks.md ("Players"): IDF1 by player 0.640 -> 0.739 on that run, no
true piece cut, about one decode pass of the video.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Callable

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..analytics.teams import GROUP_DELTA_E

SAMPLE_EVERY = 5      # frames between colour samples of a track (6 a second at 30 fps)
MIN_SECONDS = 1.0     # each side of a cut lasts at least this long
MIN_DELTA_E = GROUP_DELTA_E
AGREE = 0.75          # share of each side's samples nearer their own side's colour
MAX_CUTS = 16         # per track: a track that keeps flipping is noise, not sixteen people


def find_cuts(frames: np.ndarray, colours: np.ndarray, fps: float, min_seconds: float = MIN_SECONDS,
              min_delta: float = MIN_DELTA_E, agree: float = AGREE) -> list[int]:
    """The frames where a track's colour changes for good: each is the first frame of a new piece.

    `frames` (ascending) and `colours` (n x 3, Lab) are one track's samples. Candidates are where the median
    colour of the `min_seconds` before and the `min_seconds` after differ most (one per `min_seconds`); a
    candidate is dropped, weakest first, until each piece lasts `min_seconds`, differs from its neighbours by
    `min_delta` and has most of its samples nearer its own colour than its neighbour's."""
    frames = np.asarray(frames, np.int64)
    colours = np.asarray(colours, np.float64).reshape(-1, 3)
    n, span = len(frames), min_seconds * fps
    if n < 4:
        return []
    step = float(np.median(np.diff(frames)))
    w = max(2, int(round(span / max(step, 1.0))))
    if n < 2 * w:
        return []
    change = np.zeros(n)
    for i in range(w, n - w + 1):
        change[i] = np.linalg.norm(np.median(colours[i - w:i], axis=0) - np.median(colours[i:i + w], axis=0))
    chosen: list[int] = []
    for i in np.argsort(-change, kind="stable")[:n]:
        if change[i] < min_delta or len(chosen) >= MAX_CUTS:
            break
        if all(abs(int(i) - j) >= w for j in chosen):
            chosen.append(int(i))
    chosen.sort()

    def holds(k: int) -> bool:
        bounds = [0, *chosen, n]
        lo, at, hi = bounds[k], bounds[k + 1], bounds[k + 2]
        if frames[at - 1] - frames[lo] < span or frames[hi - 1] - frames[at] < span:
            return False
        a, b = np.median(colours[lo:at], axis=0), np.median(colours[at:hi], axis=0)
        if float(np.linalg.norm(a - b)) < min_delta:
            return False
        part = colours[lo:hi]
        near_a = np.linalg.norm(part - a, axis=1) < np.linalg.norm(part - b, axis=1)
        return near_a[:at - lo].mean() >= agree and (~near_a[at - lo:]).mean() >= agree

    while chosen:
        failing = [k for k in range(len(chosen)) if not holds(k)]
        if not failing:
            break
        chosen.pop(min(failing, key=lambda k: change[chosen[k]]))
    # Each cut moved to the sample where the two pieces' colours part best (the medians' plateau is w wide).
    for k in range(len(chosen)):
        bounds = [0, *chosen, n]
        lo, at, hi = bounds[k], bounds[k + 1], bounds[k + 2]
        a, b = np.median(colours[lo:at], axis=0), np.median(colours[at:hi], axis=0)
        first, last = max(lo + 1, at - w), min(hi - 1, at + w)
        da = np.linalg.norm(colours[first - 1:last] - a, axis=1)
        db = np.linalg.norm(colours[first - 1:last] - b, axis=1)
        # cost of cutting at j: samples first-1..j-1 measured against a, j..last-1 against b
        cost = [da[:j - first + 1].sum() + db[j - first + 1:].sum() for j in range(first, last + 1)]
        chosen[k] = first + int(np.argmin(cost))
    return [int(frames[i]) for i in chosen]


def sample_colours(video_path: str | os.PathLike, tracks: Iterable, every: int = SAMPLE_EVERY,
                   on_progress: Callable[[int, int], None] | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Track id -> (frames, Lab colours) of its boxes on every `every`-th frame of the video (frames shared
    by all tracks, so each is decoded once); boxes off the picture or too small have no colour.
    `on_progress(done, total)` counts the sampled frames."""
    from ..analytics.teams import torso_colour
    from ..video import frames_at

    wanted: dict[int, list[tuple[int, np.ndarray]]] = {}
    for track in tracks:
        for frame, box in zip(track.frames.tolist(), track.xyxy):
            if frame % every == 0:
                wanted.setdefault(int(frame), []).append((track.tracking_id, box))
    samples: dict[int, tuple[list[int], list[np.ndarray]]] = {}
    if on_progress is not None:
        on_progress(0, len(wanted))
    for done, frame in enumerate(frames_at(video_path, wanted), 1):
        if on_progress is not None and (done % 50 == 0 or done == len(wanted)):
            on_progress(done, len(wanted))
        for tid, box in wanted.get(frame.index, ()):
            colour = torso_colour(frame.image, box)
            if colour is not None:
                got = samples.setdefault(tid, ([], []))
                got[0].append(frame.index)
                got[1].append(colour)
    return {tid: (np.array(f, np.int64), np.stack(c)) for tid, (f, c) in samples.items()}


def track_cuts(video_path: str | os.PathLike, tracks: list, fps: float,
               on_progress: Callable[[int, int], None] | None = None) -> dict[int, list[int]]:
    """Track id -> the frames where it should be cut (tracks with none are left out).
    `on_progress(done, total)` counts the frames sampled."""
    samples = sample_colours(video_path, tracks, on_progress=on_progress)
    cuts = {}
    for tid, (frames, colours) in sorted(samples.items()):
        found = find_cuts(frames, colours, fps)
        if found:
            cuts[tid] = found
    return cuts


def apply_cuts(session: Session, video_id: int, cuts: dict[int, list[int]]) -> dict[int, int]:
    """Give the boxes of each piece after a cut a new tracking id; returns new id -> the track it came from.

    Touches only this video's rows; does not commit."""
    from ..db.analytics import PlayerPosition
    from ..db.models import PlayerDetection

    d = PlayerDetection.__table__
    top = session.execute(select(func.max(d.c.tracking_id)).where(d.c.video_id == video_id)).scalar_one() or 0
    born: dict[int, int] = {}
    p = PlayerPosition.__table__
    for tid in sorted(cuts):
        for start in sorted(cuts[tid], reverse=True):  # the last piece first, so each cut sees only its own
            top += 1
            session.execute(update(d).where(d.c.video_id == video_id, d.c.tracking_id == tid,
                                            d.c.frame_number >= start).values(tracking_id=top))
            session.execute(update(p).where(p.c.video_id == video_id, p.c.tracking_id == tid,
                                            p.c.frame_number >= start).values(tracking_id=top))
            born[top] = tid
    session.flush()
    return born


__all__ = ["apply_cuts", "find_cuts", "sample_colours", "track_cuts"]
