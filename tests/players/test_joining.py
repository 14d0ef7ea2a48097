"""Tracks joined into players: the pure rules (numbers first, then clear-cut continuity), no database."""

from __future__ import annotations

from basketball_analyzer.players.joining import JoinSettings, Pinned, TrackSummary, join_tracks

FPS = 30.0
SETTINGS = JoinSettings(fps=FPS)
RED = (45.0, 60.0, 40.0)
NAVY = (25.0, 10.0, -40.0)


def track(tid, first, last, team="A", number=None, confidence=0.9, start=(0.0, 0.0), end=None, colour=RED,
          label="player", pinned=None, space="court"):
    return TrackSummary(tid, label, team, first, last, last - first + 1, number, confidence, start,
                        end if end is not None else start, space, 100.0, colour, pinned)


def groups_of(tracks, pinned=None):
    return sorted(sorted(t.tracking_id for t in g.tracks) for g in join_tracks(tracks, SETTINGS, pinned))


def test_same_team_and_number_is_one_player_even_far_apart_in_time():
    tracks = [track(1, 0, 100, number="23", start=(1, 1)), track(2, 900, 1000, number="23", start=(20, 10)),
              track(3, 0, 100, team="B", number="23", start=(5, 5), colour=NAVY)]
    groups = join_tracks(tracks, SETTINGS)
    assert sorted(sorted(t.tracking_id for t in g.tracks) for g in groups) == [[1, 2], [3]]
    assert {g.number for g in groups} == {"23"}


def test_two_players_of_a_team_never_share_a_number_at_one_time():
    # Track 2 misreads 23 while track 1 (the real 23, a stronger read) is on the court at the same time.
    tracks = [track(1, 0, 300, number="23", confidence=0.95), track(2, 100, 200, number="23", confidence=0.6,
                                                                    start=(10, 5))]
    groups = join_tracks(tracks, SETTINGS)
    assert groups_of(tracks) == [[1], [2]]
    numbers = {tuple(t.tracking_id for t in g.tracks): g.number for g in groups}
    assert numbers == {(1,): "23", (2,): None}


def test_a_player_hidden_for_a_second_comes_back_with_his_id():
    tracks = [track(1, 0, 100, start=(0, 0), end=(5, 5)), track(2, 130, 250, start=(5.8, 5.2), end=(9, 9))]
    assert groups_of(tracks) == [[1, 2]]


def test_continuity_refuses_what_no_one_could_run_or_a_long_absence():
    far = [track(1, 0, 100, end=(0, 0)), track(2, 110, 200, start=(20, 0))]  # 20 m in a third of a second
    late = [track(1, 0, 100, end=(0, 0)), track(2, 100 + int(10 * FPS), 500, start=(0.5, 0))]
    assert groups_of(far) == [[1], [2]]
    assert groups_of(late) == [[1], [2]]


def test_no_join_on_a_weak_hunch_when_two_leave_together():
    # Two players of team A leave at the same place and time; two come back: who is who is not clear.
    tracks = [track(1, 0, 100, end=(14, 5)), track(2, 0, 100, end=(14, 5.3)),
              track(3, 140, 300, start=(14, 5.1)), track(4, 140, 300, start=(14, 5.2))]
    assert groups_of(tracks) == [[1], [2], [3], [4]]


def test_continuity_needs_the_same_team_colour_and_compatible_numbers():
    base = track(1, 0, 100, end=(3, 3), number="7")
    assert groups_of([base, track(2, 110, 200, start=(3.2, 3), team="B", colour=NAVY)]) == [[1], [2]]
    assert groups_of([base, track(2, 110, 200, start=(3.2, 3), colour=NAVY)]) == [[1], [2]]  # another shirt
    assert groups_of([base, track(2, 110, 200, start=(3.2, 3), number="8")]) == [[1], [2]]
    assert groups_of([base, track(2, 110, 200, start=(3.2, 3))]) == [[1, 2]]


def test_a_referee_is_joined_by_continuity_and_gets_no_number():
    tracks = [track(1, 0, 100, team="other", number="5", end=(7, 14), colour=(20, 0, 0)),
              track(2, 120, 200, team="other", number="5", start=(7.5, 14), colour=(20, 0, 0))]
    groups = join_tracks(tracks, SETTINGS)
    assert [sorted(t.tracking_id for t in g.tracks) for g in groups] == [[1, 2]]
    assert groups[0].number is None


def test_the_picture_is_measured_in_box_heights_for_a_camera_that_never_moved():
    # 100 px boxes: 60 px is 1.2 m, fine in a second; 2000 px is 40 m, impossible.
    near = [track(1, 0, 100, end=(500, 400), space="image"), track(2, 130, 200, start=(560, 400), space="image")]
    far = [track(1, 0, 100, end=(500, 400), space="image"), track(2, 130, 200, start=(2500, 400), space="image")]
    assert groups_of(near) == [[1, 2]]
    assert groups_of(far) == [[1], [2]]


def test_pinned_players_keep_their_tracks_and_are_never_merged_with_each_other():
    # A person split track 2 off player 1: continuity alone would join them again.
    tracks = [track(1, 0, 100, end=(5, 5), pinned=1), track(2, 110, 200, start=(5.2, 5), pinned=2),
              track(3, 230, 300, start=(5.5, 5.5))]
    groups = join_tracks(tracks, SETTINGS, {1: Pinned(), 2: Pinned()})
    assert sorted((g.pinned, sorted(t.tracking_id for t in g.tracks)) for g in groups) == [(1, [1]), (2, [2, 3])]


def test_a_pinned_number_attracts_the_tracks_that_read_it():
    tracks = [track(1, 0, 100, pinned=4), track(2, 500, 600, number="11")]
    groups = join_tracks(tracks, SETTINGS, {4: Pinned(team="A", number="11")})
    assert [(g.pinned, sorted(t.tracking_id for t in g.tracks), g.number) for g in groups] == [(4, [1, 2], "11")]


def test_frames_really_shared_decide_overlap_twins_join_and_a_short_drift_is_forgiven():
    one, two = track(1, 0, 300, number="8"), track(2, 197, 212, number="8", start=(9, 9))
    # Spans overlap, but the tracker lost track 1 while track 2 stood in: no common frame.
    apart = JoinSettings(fps=FPS, together={})
    assert sorted(sorted(t.tracking_id for t in g.tracks) for g in join_tracks([one, two], apart)) == [[1, 2]]
    drifted = JoinSettings(fps=FPS, together={frozenset((1, 2)): 20})  # under a second together
    assert len(join_tracks([one, two], drifted)) == 1
    together = JoinSettings(fps=FPS, together={frozenset((1, 2)): 90})  # three seconds: two people
    assert len(join_tracks([one, two], together)) == 2
    twins = JoinSettings(fps=FPS, together={}, twins=frozenset({frozenset((3, 4))}))
    a, b = track(3, 0, 100), track(4, 40, 160, start=(20, 20))  # unread, far-off ends: only the twin link joins
    assert len(join_tracks([a, b], twins)) == 1 and len(join_tracks([a, b], apart)) == 2


def test_a_track_that_read_another_number_does_not_continue_a_player():
    seven = track(1, 0, 100, number="7", end=(3, 3))
    eight_lost = track(2, 110, 200, number="8", start=(3.2, 3))
    eight = track(3, 50, 400, number="8", confidence=0.99, start=(12, 12))  # holds 8 while track 2 is seen
    groups = join_tracks([seven, eight_lost, eight], SETTINGS)
    assert sorted(sorted(t.tracking_id for t in g.tracks) for g in groups) == [[1], [2], [3]]
