"""Teams from jersey colour: a torso colour per track, two clusters over the whole video, the rest `other`.

Colours are compared in CIE Lab, where a distance is roughly what an eye sees as different. Each track's
colour is the median of its torso pixels over many frames (robust to a frame where someone crosses in
front). Tracks of one jersey colour are grouped (average linkage, cut at 20 delta E); the two groups with the
most tracks are the teams and every other colour (referees, bench, fans) is `other`. A referee cannot pull
a team's centre, as he would in two-means. When there is one colour group, or the two are not clearly
apart, the answer is "colours do not separate" rather than a guess: users report purple and white lumped
into one team by colour-only tools, and a wrong team is worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OTHER = "other"
TEAMS = ("A", "B")
TEAM_NAMES = (*TEAMS, OTHER)
GROUP_DELTA_E = 20.0  # tracks closer than this (average linkage, CIE76) wear one jersey colour
# Both a relative and an absolute gap between the teams' colours are required.
MIN_SEPARATION = 4.0  # distance between centres over the mean spread within the teams
MIN_DELTA_E = 12.0
MIN_TEAM_SHARE = 0.15  # of the player tracks: less is a referee crew or a fan, not a team
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
    """The commonest Lab colour (L, a, b; L in 0..100) of one box's torso pixels, or None if it is off frame."""
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
    # The commonest colour, not the median: a loose box puts skin, floor or a neighbour's shirt in the patch,
    # and a median of jersey and skin is a colour nobody wears. Bins of 8 units in L, a and b.
    bins = np.floor(lab / 8.0).astype(np.int64)
    keys, inverse, counts = np.unique(bins, axis=0, return_inverse=True, return_counts=True)
    return lab[inverse.reshape(-1) == int(np.argmax(counts))].mean(axis=0)


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


def split_teams(colours: dict[int, np.ndarray], weights: dict[int, float],
                labels: dict[int, str] | None = None) -> TeamSplit:
    """Assign tracks to two teams by colour; other colours and referees go to `other`.

    Tracks are grouped by average-linkage clustering with a cut at `GROUP_DELTA_E` (a jersey's colour varies
    by a few delta E between frames and tracks; two teams' jerseys differ by tens). The two groups with the
    most tracks (then the most frames) are the teams: a team has five players, a referee crew three, a fan
    one. With only one group there is nothing to tell apart.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    labels = labels or {}
    teams: dict[int, str | None] = {t: OTHER for t in colours if labels.get(t) in REFEREE_LABELS}
    ids = [t for t in colours if t not in teams and colours[t] is not None]
    teams.update({t: None for t in colours if t not in teams and colours[t] is None})
    if len(ids) < 2:
        teams.update({t: None for t in ids})
        return TeamSplit(teams, {}, 0.0, False, f"only {len(ids)} player track(s) with a visible jersey: "
                         "no teams to tell apart")
    x = np.stack([colours[t] for t in ids]).astype(np.float64)
    w = np.array([max(float(weights.get(t, 1.0)), 1.0) for t in ids])
    group = fcluster(linkage(x, "average"), t=GROUP_DELTA_E, criterion="distance")
    ranked = sorted(set(group.tolist()), key=lambda g: (-(group == g).sum(), -w[group == g].sum(), g))
    centres = {g: np.average(x[group == g], axis=0, weights=w[group == g]) for g in ranked}
    # A lone odd colour (a referee, a fan) is not the second team: it needs two tracks and a fair share.
    if len(ranked) < 2 or (group == ranked[1]).sum() < max(2, MIN_TEAM_SHARE * len(ids)):
        teams.update({t: None for t in ids})
        return TeamSplit(teams, {}, 0.0, False, "jersey colours do not separate into two teams (one colour "
                         "group); teams left unassigned: set them with `bball teams set`")
    first, second = sorted(ranked[:2], key=lambda g: -centres[g][0])  # team A is the lighter jersey
    inside = np.isin(group, [first, second])
    spread = np.linalg.norm(x - np.stack([centres[g] for g in group]), axis=1)
    within = float(np.average(spread[inside], weights=w[inside]))
    gap = float(np.linalg.norm(centres[first] - centres[second]))
    separation = gap / max(within, 2.0)
    separated = separation >= MIN_SEPARATION and gap >= MIN_DELTA_E
    for i, t in enumerate(ids):
        name = TEAMS[0] if group[i] == first else TEAMS[1] if group[i] == second else OTHER
        teams[t] = name if separated else None
    message = (f"two teams, separation {separation:.1f}" if separated else
               f"jersey colours do not separate into two teams (separation {separation:.1f} < "
               f"{MIN_SEPARATION:g}); teams left unassigned: set them with `bball teams set`")
    return TeamSplit(teams, {TEAMS[0]: centres[first], TEAMS[1]: centres[second]}, separation, separated, message)
