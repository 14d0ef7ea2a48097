"""Tracks joined into players: pure logic over one summary per track, no database and no pixels.

Two kinds of evidence, applied in this order:

1. **The jersey.** Tracks of one team that read one number are one player, as long as none of them overlap in
   time (one person is in one place). When two tracks of a team read one number at the same time, the better
   read keeps it and the other loses its number: two players of a team never share a number at one time.
2. **Continuity.** A track that ends and a track that begins soon after, near where the first one ended, of
   the same team and a compatible number (equal, or one unread), with a similar jersey colour, are one
   player, but only when each is the other's clearly best match: when two players of a team leave the
   picture together and two come back, nobody can tell who is who from where they went, and a wrong join is
   worse than a missing one (it merges two people's stats).

Positions are compared on the court where the camera is mapped (a panning camera moves the picture, not the
players) and in the picture only for a camera that never moved; there a box's height is the yardstick (a
player is about 2 m tall). Referees are joined by continuity alone and carry no number. Pinned players (a
person merged, split or set them) keep their tracks; automatic tracks may still join them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TEAMS = ("A", "B")
MAX_GAP_SECONDS = 4.0  # longest absence bridged by continuity: out of the picture, hidden behind others
MAX_SPEED_METRES = 8.0  # a sprinting player covers at most this per second (slack for foot-point noise below)
SLACK_METRES = 1.5
PLAYER_METRES = 2.0  # a standing player's box height in metres (the picture's yardstick)
MAX_COLOUR_DELTA_E = 18.0  # jersey colours further apart are different shirts
MARGIN = 0.25  # the best match's cost must beat the second best by this much (costs are in 0..~2)
OVERLAP_FRAMES = 3  # a tracker may start a person's new track a frame or two before it drops the old one
DRIFT_SECONDS = 1.0  # tracks reading one number may share this much time (one drifted onto a neighbour)


@dataclass(frozen=True)
class TrackSummary:
    """What joining needs of one track. `start`/`end` are positions at its first/last frames, in court units
    (`space == "court"`) or image pixels (`"image"`), None where unknown; `height` is the median box height
    (pixels); `colour` its jersey colour in Lab; `pinned` the player a person put it in."""

    tracking_id: int
    label: str
    team: str | None
    first_frame: int
    last_frame: int
    frames: int
    number: str | None = None
    number_confidence: float = 0.0
    start: tuple[float, float] | None = None
    end: tuple[float, float] | None = None
    space: str = "image"
    height: float = 0.0
    colour: tuple[float, float, float] | None = None
    pinned: int | None = None

    @property
    def is_referee(self) -> bool:
        """A referee (by label or team `other`): joined by continuity only, never given a number."""
        return self.label == "referee" or self.team == "other"


@dataclass
class PlayerGroup:
    """Tracks judged to be one person; `number` the jersey number the group stands for, `pinned` its fixed id."""

    tracks: list[TrackSummary] = field(default_factory=list)
    number: str | None = None
    pinned: int | None = None
    team_set: str | None = None  # a team a person gave the player

    @property
    def team(self) -> str | None:
        """The team a person set, else the team most of the group's frames were given."""
        if self.team_set is not None:
            return self.team_set
        votes: dict[str | None, int] = {}
        for t in self.tracks:
            votes[t.team] = votes.get(t.team, 0) + t.frames
        return max(votes, key=lambda k: (votes[k], k is not None)) if votes else None

    @property
    def first_frame(self) -> int:
        """The group's first frame."""
        return min(t.first_frame for t in self.tracks)

    @property
    def claims(self) -> set[str]:
        """The numbers the group may stand for: its number, else what its tracks read."""
        if self.number is not None:
            return {self.number}
        return {t.number for t in self.tracks if t.number is not None and not t.is_referee}

    def overlaps(self, other: "PlayerGroup | TrackSummary", settings: "JoinSettings", drift: bool = False) -> bool:
        """Whether the group and `other` are seen at one time: a track of each shares more than
        `settings.overlap_frames` frames (`settings.together` when known, else their first..last spans),
        unless the two are twins (one person's two boxes). With `drift`, up to `settings.drift_seconds` of
        common frames are forgiven: a track that drifts onto a neighbour before it ends, as its person's next
        track begins."""
        others = other.tracks if isinstance(other, PlayerGroup) else [other]
        if settings.together is not None:  # the frames each track was really seen on are known
            allowed = settings.drift_seconds * settings.fps if drift else 0
            return any(settings.together.get(frozenset((a.tracking_id, b.tracking_id)), 0) > allowed
                       for a in self.tracks for b in others)
        return any(min(a.last_frame, b.last_frame) - max(a.first_frame, b.first_frame) >= settings.overlap_frames
                   and frozenset((a.tracking_id, b.tracking_id)) not in settings.twins
                   for a in self.tracks for b in others)


@dataclass(frozen=True)
class JoinSettings:
    """Thresholds of continuity joining, in seconds and metres (`metres_per_unit` converts court units)."""

    fps: float
    metres_per_unit: float = 1.0
    max_gap_seconds: float = MAX_GAP_SECONDS
    margin: float = MARGIN
    overlap_frames: int = OVERLAP_FRAMES
    twins: frozenset = frozenset()  # pairs (frozensets) of tracks that are one person's two boxes at one time
    together: dict | None = None  # pairs of tracks seen on more than overlap_frames common frames -> how many
    drift_seconds: float = DRIFT_SECONDS


@dataclass(frozen=True)
class Pinned:
    """What a person fixed about a player: his team and number (None: left to the tracks)."""

    team: str | None = None
    number: str | None = None


def join_tracks(tracks: list[TrackSummary], settings: JoinSettings,
                pinned: dict[int, Pinned] | None = None) -> list[PlayerGroup]:
    """Group `tracks` into players (see the module docstring); groups are ordered by their first frame.
    `pinned` holds what a person set on the players named by tracks' `pinned` ids."""
    groups = _seed_pinned(tracks, pinned or {})
    loose = [t for t in tracks if t.pinned is None]
    groups += _join_by_number(loose, groups, settings)
    in_group = {t.tracking_id for g in groups for t in g.tracks}
    groups += [PlayerGroup([t]) for t in sorted(loose, key=lambda t: t.first_frame) if t.tracking_id not in in_group]
    _join_twins(groups, settings)
    while _join_by_continuity(groups, settings):
        pass
    for g in groups:
        g.tracks.sort(key=lambda t: t.first_frame)
        if any(t.is_referee for t in g.tracks) and g.pinned is None:
            g.number = None
    return sorted(groups, key=lambda g: (g.first_frame, g.tracks[0].tracking_id))


def _seed_pinned(tracks: list[TrackSummary], fixed: dict[int, Pinned]) -> list[PlayerGroup]:
    groups: dict[int, PlayerGroup] = {}
    for t in tracks:
        if t.pinned is not None:
            pin = fixed.get(t.pinned, Pinned())
            groups.setdefault(t.pinned, PlayerGroup(pinned=t.pinned, number=pin.number,
                                                    team_set=pin.team)).tracks.append(t)
    for g in groups.values():  # a pinned player without a set number takes his tracks' clearest read
        if g.number is None:
            reads = [t for t in g.tracks if t.number is not None and not t.is_referee]
            if reads:
                g.number = max(reads, key=lambda t: t.number_confidence * t.frames).number
    return [groups[k] for k in sorted(groups)]


def _join_by_number(loose: list[TrackSummary], pinned: list[PlayerGroup], settings: JoinSettings
                    ) -> list[PlayerGroup]:
    """Groups of (team, number); the best reads claim a number first, an overlapping read loses it."""
    by_key: dict[tuple[str, str], PlayerGroup] = {}
    for g in pinned:
        if g.number is not None and g.team in TEAMS:
            by_key.setdefault((g.team, g.number), g)
    new: list[PlayerGroup] = []
    numbered = [t for t in loose if t.number is not None and t.team in TEAMS and not t.is_referee]
    for t in sorted(numbered, key=lambda t: (-t.number_confidence * t.frames, t.tracking_id)):
        key = (t.team, t.number)
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = PlayerGroup([t], number=t.number)
            new.append(group)
        elif not group.overlaps(t, settings, drift=True):
            group.tracks.append(t)
        # else: two of a team with one number at one time; this weaker read is left to continuity, unnumbered
    return new


def _join_twins(groups: list[PlayerGroup], settings: JoinSettings) -> None:
    """One person's two boxes at one time (a tracker's duplicate) are one player, where nothing else objects."""
    owner = {t.tracking_id: g for g in groups for t in g.tracks}
    for pair in sorted(tuple(sorted(p)) for p in settings.twins):
        ga, gb = (owner.get(t) for t in pair)
        if ga is None or gb is None or not _compatible(ga, gb, settings):
            continue
        _absorb(groups, owner, ga, gb)


def _absorb(groups: list[PlayerGroup], owner: dict[int, PlayerGroup], ga: PlayerGroup, gb: PlayerGroup) -> None:
    """Join two groups into the pinned one (or the first)."""
    keep, gone = (ga, gb) if ga.pinned is not None or gb.pinned is None else (gb, ga)
    keep.tracks += gone.tracks
    keep.number = keep.number or gone.number
    for t in gone.tracks:
        owner[t.tracking_id] = keep
    groups.remove(gone)


def _compatible(a: PlayerGroup, b: PlayerGroup, settings: JoinSettings) -> bool:
    if a is b or (a.pinned is not None and b.pinned is not None) or a.overlaps(b, settings):
        return False
    if a.team != b.team or any(t.is_referee for t in a.tracks) != any(t.is_referee for t in b.tracks):
        return False
    ca, cb = a.claims, b.claims  # a track that read 8 does not continue number 7, even if it lost its 8
    return not ca or not cb or bool(ca & cb)


def link_cost(a: TrackSummary, b: TrackSummary, settings: JoinSettings) -> float | None:
    """How unlikely it is that `b` continues `a` (0 best), or None when it cannot: too long a gap, too far to
    run in the time, no comparable positions, or another shirt colour."""
    if b.first_frame - a.last_frame < -settings.overlap_frames:
        return None
    gap = max(b.first_frame - a.last_frame, 1) / settings.fps  # a new track may start as the old one ends
    if gap > settings.max_gap_seconds or a.end is None or b.start is None or a.space != b.space:
        return None
    if a.colour is not None and b.colour is not None:
        colour = float(np.linalg.norm(np.subtract(a.colour, b.colour)))
        if colour > MAX_COLOUR_DELTA_E:
            return None
    else:
        colour = MAX_COLOUR_DELTA_E / 2
    distance = float(np.hypot(b.start[0] - a.end[0], b.start[1] - a.end[1]))
    if a.space == "court":
        metres = distance * settings.metres_per_unit
    else:  # the picture of a camera that never moved: box heights as metres
        height = max((a.height + b.height) / 2, 1.0)
        metres = distance / height * PLAYER_METRES
    reach = MAX_SPEED_METRES * gap + SLACK_METRES
    if metres > reach:
        return None
    return metres / reach + 0.5 * gap / settings.max_gap_seconds + 0.5 * colour / MAX_COLOUR_DELTA_E


def _join_by_continuity(groups: list[PlayerGroup], settings: JoinSettings) -> bool:
    """One round of mutual-best links between groups; True when any two groups were joined."""
    owner = {t.tracking_id: g for g in groups for t in g.tracks}
    tracks = sorted((t for g in groups for t in g.tracks), key=lambda t: t.first_frame)
    nexts: dict[int, list[tuple[float, int]]] = {}
    prevs: dict[int, list[tuple[float, int]]] = {}
    starts = np.array([t.first_frame for t in tracks])
    horizon = int(settings.max_gap_seconds * settings.fps) + 1
    for a in tracks:
        lo, hi = np.searchsorted(starts, [a.last_frame - settings.overlap_frames, a.last_frame + horizon + 1])
        for b in tracks[lo:hi]:
            if b.tracking_id == a.tracking_id or b.first_frame <= a.first_frame:
                continue
            ga, gb = owner[a.tracking_id], owner[b.tracking_id]
            if not _compatible(ga, gb, settings):
                continue
            cost = link_cost(a, b, settings)
            if cost is not None:
                nexts.setdefault(a.tracking_id, []).append((cost, b.tracking_id))
                prevs.setdefault(b.tracking_id, []).append((cost, a.tracking_id))
    links = []
    for a_id, options in nexts.items():
        best = _clear_best(options, settings.margin)
        if best is None:
            continue
        cost, b_id = best
        if _clear_best(prevs[b_id], settings.margin) == (cost, a_id):
            links.append((cost, a_id, b_id))
    joined = False
    for _, a_id, b_id in sorted(links):
        ga, gb = owner[a_id], owner[b_id]
        if not _compatible(ga, gb, settings):
            continue
        _absorb(groups, owner, ga, gb)
        joined = True
    return joined


def _clear_best(options: list[tuple[float, int]], margin: float) -> tuple[float, int] | None:
    """The cheapest option when it beats the runner-up by `margin`, else None (a weak hunch)."""
    ranked = sorted(options)
    if len(ranked) > 1 and ranked[1][0] - ranked[0][0] < margin:
        return None
    return ranked[0]
