"""Teams from jersey colour: a torso colour per track, two clusters over the whole video, the rest `other`.

Colours are compared in CIE Lab, where a distance is roughly what an eye sees as different. Each track's
colour is the median of its torso pixels over many frames (robust to a frame where someone crosses in
front). Two-means clustering weighted by frames seen finds the teams; a track far from both centres
(referees, bench, fans) is `other`. When the two centres are not clearly apart the answer is "colours do
not separate" rather than a guess: users report purple and white lumped into one team by colour-only
tools, and a wrong team is worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OTHER = "other"
TEAMS = ("A", "B")
TEAM_NAMES = (*TEAMS, OTHER)
# Two-means splits even one blob of colour in two, with centres about 3.3 mean spreads apart; real teams
# sit far beyond that. Both a relative and an absolute (CIE76 delta E) gap are required.
MIN_SEPARATION = 4.0  # distance between centres over the mean spread within the teams
MIN_DELTA_E = 12.0
OUTLIER_SPREAD = 3.0  # a track this many spreads from its centre is not on that team...
OUTLIER_MIN_DELTA_E = 18.0  # ...unless it is this close in absolute colour difference
MIN_TEAM_SHARE = 0.2  # a cluster with fewer tracks than this share is outliers, not a team
REFEREE_LABELS = frozenset({"referee"})


def torso_region(box: np.ndarray, image_shape: tuple[int, ...]) -> tuple[slice, slice] | None:
    """Rows and columns of the jersey: the middle 40% of the width, 20-50% down the box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    top, bottom = int(round(y1 + 0.2 * h)), int(round(y1 + 0.5 * h))
    left, right = int(round(x1 + 0.3 * w)), int(round(x1 + 0.7 * w))
    top, left = max(top, 0), max(left, 0)
    bottom, right = min(bottom, image_shape[0]), min(right, image_shape[1])
    if bottom - top < 2 or right - left < 2:
        return None
    return slice(top, bottom), slice(left, right)


def torso_colour(image_bgr: np.ndarray, box: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray | None:
    """Median Lab colour (L, a, b; L in 0..100) of the torso pixels of one box, or None if it is off frame."""
    import cv2

    region = torso_region(box, image_bgr.shape)
    if region is None:
        return None
    patch = image_bgr[region]
    lab = cv2.cvtColor(patch, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float64)
    if mask is not None:
        keep = np.asarray(mask[region], bool).reshape(-1)
        if keep.sum() >= 4:
            lab = lab[keep]
    lab[:, 0] *= 100.0 / 255.0
    lab[:, 1:] -= 128.0
    return np.median(lab, axis=0)


def lab_to_hex(lab: np.ndarray) -> str:
    """`#rrggbb` of a Lab colour (for tables and drawing)."""
    import cv2

    pixel = np.array([[[lab[0] * 255.0 / 100.0, lab[1] + 128.0, lab[2] + 128.0]]]).clip(0, 255).astype(np.uint8)
    b, g, r = cv2.cvtColor(pixel, cv2.COLOR_LAB2BGR)[0, 0]
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class TeamSplit:
    """Clustering result: a team per track (A, B, other or None when colours do not separate)."""

    teams: dict[int, str | None]
    centres: dict[str, np.ndarray]
    separation: float
    separated: bool
    message: str


def _two_means(x: np.ndarray, w: np.ndarray, iters: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Weighted 2-means with a deterministic farthest-point start."""
    first = int(np.argmax(w))
    second = int(np.argmax(np.linalg.norm(x - x[first], axis=1)))
    centres = np.stack([x[first], x[second]])
    assign = np.zeros(len(x), int)
    for _ in range(iters):
        d = np.linalg.norm(x[:, None, :] - centres[None], axis=2)
        new = np.argmin(d, axis=1)
        for k in range(2):
            if (new == k).any():
                centres[k] = np.average(x[new == k], axis=0, weights=w[new == k])
        if (new == assign).all():
            break
        assign = new
    return centres, assign


def split_teams(colours: dict[int, np.ndarray], weights: dict[int, float],
                labels: dict[int, str] | None = None) -> TeamSplit:
    """Assign tracks to two teams by colour; far-off colours and referees go to `other`."""
    labels = labels or {}
    teams: dict[int, str | None] = {t: OTHER for t in colours if labels.get(t) in REFEREE_LABELS}
    ids = [t for t in colours if t not in teams and colours[t] is not None]
    for t in colours:
        if t not in teams and colours[t] is None:
            teams[t] = None
    if len(ids) < 2:
        teams.update({t: None for t in ids})
        return TeamSplit(teams, {}, 0.0, False, f"only {len(ids)} player track(s) with a visible jersey: "
                         "no teams to tell apart")
    x = np.stack([colours[t] for t in ids]).astype(np.float64)
    w = np.array([max(float(weights.get(t, 1.0)), 1.0) for t in ids])
    inlier = np.ones(len(ids), bool)
    min_team = max(2, int(np.ceil(MIN_TEAM_SHARE * len(ids))))
    for _ in range(5):  # refit without the outliers found so far (a referee pulls a centre)
        centres, _ = _two_means(x[inlier], w[inlier])
        d = np.linalg.norm(x[:, None, :] - centres[None], axis=2)
        assign, dist = np.argmin(d, axis=1), d.min(axis=1)
        spread = max(float(np.median(dist[inlier])), 2.0)
        new_inlier = dist <= max(OUTLIER_SPREAD * spread, OUTLIER_MIN_DELTA_E)
        # A "team" of one or two odd colours among many tracks is a referee or a fan, not a team.
        for k in range(2):
            members = new_inlier & (assign == k)
            if 0 < members.sum() < min_team and (new_inlier & (assign != k)).sum() >= 2:
                new_inlier &= ~members
        if (new_inlier == inlier).all() or new_inlier.sum() < 2:
            break
        inlier = new_inlier
    # Team A is the lighter jersey, so names do not swap between runs of the same video.
    order = np.argsort(-centres[:, 0])
    centres, assign = centres[order], np.argsort(order)[assign]
    within = float(np.average(dist[inlier], weights=w[inlier])) if inlier.any() else 0.0
    separation = float(np.linalg.norm(centres[0] - centres[1]) / max(within, 2.0))
    gap = float(np.linalg.norm(centres[0] - centres[1]))
    separated = (separation >= MIN_SEPARATION and gap >= MIN_DELTA_E
                 and len(set(assign[inlier].tolist())) == 2)
    for i, t in enumerate(ids):
        teams[t] = (TEAMS[assign[i]] if inlier[i] else OTHER) if separated else None
    message = (f"two teams, separation {separation:.1f}" if separated else
               f"jersey colours do not separate into two teams (separation {separation:.1f} < "
               f"{MIN_SEPARATION:g}); teams left unassigned: set them with `bball teams set`")
    return TeamSplit(teams, {TEAMS[0]: centres[0], TEAMS[1]: centres[1]}, separation, separated, message)
