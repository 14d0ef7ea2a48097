"""The web tests' game with players: the synthetic game clip's true boxes, two players broken into two tracks each,
teams as the truth has them, a fixed-camera court, and players joined and numbered without reading numbers (OCR
is players/numbers.py's to test), so the pages, not the reader, are under test."""

from __future__ import annotations

import numpy as np

HANDOVER = (0, 20, 60)
"""Track 0 (player index 0, #23 of team A) ends at frame 59 and goes on as track 20: one player, two tracks."""
HIDDEN = (1, 21, 50, 70)
"""Track 1 (#8 of team B) ends at 49; the same person comes back at 70 as track 21, not joined yet."""
NAMES = {0: "Ada Lovelace", 2: "<img src=x onerror=document.title='pwned'>"}
"""Names by truth index; the second is markup that must show as text."""
COLOURS = {"A": "#c02828", "B": "#142d96", "other": "#232323"}


def _boxes(truth):
    from basketball_analyzer.detections import Detections

    b = truth.boxes
    ids = b.tracker_id.copy()
    ids[(b.tracker_id == HANDOVER[0]) & (b.frame_number >= HANDOVER[2])] = HANDOVER[1]
    gone = (b.tracker_id == HIDDEN[0]) & (b.frame_number > HIDDEN[2] - 1) & (b.frame_number < HIDDEN[3])
    ids[(b.tracker_id == HIDDEN[0]) & (b.frame_number >= HIDDEN[3])] = HIDDEN[1]
    keep = ~gone
    return Detections(b.xyxy[keep], b.confidence[keep], ids[keep], b.frame_number[keep])


def team_of(truth, tracking_id: int) -> str:
    """The true team of a stored track (20 and 21 are pieces of 0 and 1)."""
    index = {HANDOVER[1]: HANDOVER[0], HIDDEN[1]: HIDDEN[0]}.get(tracking_id, tracking_id)
    return truth.teams[index]


def store_players_game(db_url: str, web_clip) -> int:
    """Register the clip in `db_url` with the boxes above, teams and a court; returns the video id."""
    from basketball_analyzer.analytics.calibration import set_calibration
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.analytics import Track
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.videos import register_video

    path, truth = web_clip
    boxes = _boxes(truth)
    with transaction(db_url) as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, boxes)
        for tid in np.unique(boxes.tracker_id):
            frames = boxes.frame_number[boxes.tracker_id == tid]
            team = team_of(truth, int(tid))
            s.add(Track(video_id=video_id, tracking_id=int(tid), label="player", team=team, team_source="manual",
                        color=COLOURS[team], frames_seen=len(frames), first_frame=int(frames.min()),
                        last_frame=int(frames.max())))
    with transaction(db_url) as s:
        set_calibration(s, video_id, truth.calibration_pairs(), "fiba", fixed_camera=True)
    return video_id


def seed_players(db_url: str, video_id: int, truth) -> dict[int, int]:
    """Players as a person would leave them: tracks 0 and 20 one player, 1 and 21 two, truth's numbers and
    NAMES set (21 unnumbered: #8 is track 1's). Replaces any players stored before; returns track -> player."""
    from sqlalchemy import delete

    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.players import Player, TrackPlayer
    from basketball_analyzer.players.edit import merge_players, set_player, split_track
    from basketball_analyzer.players.store import identify_players, player_of

    with transaction(db_url) as s:
        s.execute(delete(TrackPlayer).where(TrackPlayer.video_id == video_id))
        s.execute(delete(Player).where(Player.video_id == video_id))
        identify_players(s, video_id, read_numbers=False)
        owner = player_of(s, video_id)
        if owner[HANDOVER[0]] != owner[HANDOVER[1]]:
            merge_players(s, video_id, [owner[HANDOVER[0]], owner[HANDOVER[1]]])
        if player_of(s, video_id)[HIDDEN[0]] == player_of(s, video_id)[HIDDEN[1]]:
            split_track(s, video_id, HIDDEN[1])
        owner = player_of(s, video_id)
        for index, number in enumerate(truth.numbers):
            if number is not None:
                set_player(s, video_id, owner[index], number=number, name=NAMES.get(index))
        return owner
