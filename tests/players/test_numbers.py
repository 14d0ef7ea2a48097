"""Jersey numbers: the vote and the choice of crops (pure logic), and the OCR really reading printed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from basketball_analyzer.players.numbers import (
    MIN_BOX_HEIGHT,
    NumberRead,
    NumberReader,
    choose_samples,
    parse_number,
    read_track_numbers,
    samples_for,
    torso_crop,
    vote,
)
from basketball_analyzer.sample import draw_player

FLOOR = (160, 200, 230)
RED, NAVY = (40, 40, 200), (150, 45, 20)


def _figure(number: str | None, colour=RED, height: int = 175, size=(300, 220)) -> tuple[np.ndarray, tuple]:
    """One drawn player (as the sample game draws them, 175 px tall as at 1280x720) and his box."""
    img = np.full((*size, 3), FLOOR, np.uint8)
    box = (60.0, 60.0, 60.0 + height * 0.42, 60.0 + height)
    draw_player(img, box, colour, 0, number)
    return img, box


def test_a_clear_winner_is_the_number():
    v = vote([NumberRead("23", 0.95), NumberRead("23", 0.9), NumberRead("3", 0.5), NumberRead("23", 0.99)])
    assert v.number == "23" and v.reads == 4
    assert v.weights == pytest.approx({"23": 2.84, "3": 0.5})
    assert v.confidence == pytest.approx(2.84 / 3.34)


def test_a_split_vote_a_single_read_or_no_read_gives_no_number():
    split = vote([NumberRead("8", 0.9), NumberRead("8", 0.9), NumberRead("3", 0.9), NumberRead("3", 0.8)])
    assert split.number is None and split.reads == 4 and split.confidence == pytest.approx(1.8 / 3.5)
    assert vote([NumberRead("7", 0.99)]).number is None  # one read alone is a hunch
    guesses = vote([NumberRead("7", 0.45)] * 4)  # the recogniser guessing, however often
    assert guesses.number is None and guesses.confidence == 1.0
    empty = vote([])
    assert (empty.number, empty.reads, empty.confidence, empty.weights) == (None, 0, 0.0, {})


def test_confidence_weighs_the_vote_not_the_count():
    # Three weak reads of 1 lose to two sure reads of 11.
    v = vote([NumberRead("1", 0.2), NumberRead("1", 0.2), NumberRead("1", 0.2), NumberRead("11", 0.99),
              NumberRead("11", 0.98)])
    assert v.number == "11"


@pytest.mark.parametrize("text, number", [("23", "23"), (" 7 ", "7"), ("#30", "30"), ("00", "00"), ("O", "0"),
                                          ("1O", "10"), ("123", None), ("A", None), ("7A", None), ("", None),
                                          ("NBA", None), ("2-3", None)])
def test_only_one_or_two_digits_are_a_number(text, number):
    assert parse_number(text) == number


def test_samples_are_the_tallest_box_of_each_stretch_spread_over_the_track():
    frames = np.arange(100)
    heights = np.full(100, 100.0)
    heights[[5, 37, 62, 99]] = 150.0  # the tallest box of each quarter
    xyxy = np.stack([np.full(100, 10.0), 10 + 150 - heights, np.full(100, 60.0), np.full(100, 160.0)], axis=1)
    assert choose_samples(frames, xyxy, 4).tolist() == [5, 37, 62, 99]
    assert len(choose_samples(frames, xyxy, 12)) == 12
    assert choose_samples(frames, xyxy, 0).tolist() == []


def test_a_track_gets_one_read_a_second_within_bounds_and_a_flicker_none():
    assert samples_for(np.arange(10), fps=30) == 0  # a third of a second: a flicker
    assert samples_for(np.arange(20), fps=30) == 3  # enough for a vote with one misread to spare
    assert samples_for(np.array([0, 149]), fps=30) == 5  # a span of 5 s, however few boxes are stored
    assert samples_for(np.arange(3600), fps=30) == 12
    assert samples_for(np.arange(3600), fps=30, most=4) == 4
    assert samples_for(np.arange(3600), fps=60) == 12 and samples_for(np.arange(240), fps=60) == 4


def test_samples_skip_boxes_too_small_or_cut_by_the_frame_edge():
    frames = np.array([0, 10, 20, 30])
    xyxy = np.array([[0, 10, 50, 160],     # touches the left edge
                     [10, 10, 60, 10 + MIN_BOX_HEIGHT - 1],  # too short
                     [10, 10, 60, 160],
                     [600, 10, 640, 160]], np.float64)  # touches the right edge of a 640-wide frame
    assert choose_samples(frames, xyxy, 4, image_shape=(360, 640)).tolist() == [2]
    assert choose_samples(frames[:2], xyxy[:2], 4, image_shape=(360, 640)).tolist() == []


def test_the_torso_crop_is_the_jersey_and_none_when_it_cannot_be_read():
    import cv2

    img, box = _figure("23")
    crop = torso_crop(img, box)
    assert crop is not None and crop.shape[0] == pytest.approx(0.43 * 175, abs=2)
    assert (np.abs(crop.astype(int) - RED).sum(axis=2) < 30).mean() > 0.3  # mostly the red shirt
    assert torso_crop(img, (0, 60, 73, 235)) is None  # cut by the frame's edge
    small, small_box = _figure("23", height=MIN_BOX_HEIGHT - 5)
    assert torso_crop(small, small_box) is None
    assert torso_crop(cv2.GaussianBlur(img, (0, 0), 4), box) is None  # motion-blurred: nothing to read


@pytest.fixture(scope="module")
def reader():
    return NumberReader()


@pytest.mark.parametrize("number, colour", [("23", RED), ("7", NAVY), ("0", NAVY), ("88", RED), ("14", NAVY)])
def test_the_ocr_reads_a_printed_number(reader, number, colour):
    import cv2

    img, box = _figure(number, colour)
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 70])  # as lossy as a video frame
    read = reader.read(torso_crop(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), box))
    assert read is not None and read.number == number and read.confidence > 0.8


def test_the_ocr_reads_nothing_on_a_plain_shirt(reader):
    img, box = _figure(None, (35, 35, 35))
    img[100:110, 60:135] = 245  # a stripe: sharp enough to be read, but no digits
    crop = torso_crop(img, box)
    assert crop is not None and reader.read(crop) is None
    assert reader.read_many([]) == []


def test_every_player_of_the_sample_game_gets_his_number_from_one_pass(tmp_path, reader):
    from basketball_analyzer.analytics.tracks import TrackRows
    from basketball_analyzer.sample_game import make_game_clip

    path = tmp_path / "game.mp4"
    truth = make_game_clip(path, frames=24, width=1280, height=720)
    b = truth.boxes
    tracks = [TrackRows(tid, "player", b.frame_number[b.tracker_id == tid], b.xyxy[b.tracker_id == tid])
              for tid in range(len(truth.numbers))]
    tracks.append(TrackRows(99, "ball", np.array([0, 1]), np.array([[5, 5, 15, 15], [6, 6, 16, 16]], float)))
    progress = []
    votes = read_track_numbers(path, tracks, samples_per_track=3, reader=reader,
                               on_progress=lambda done, total: progress.append((done, total)))
    assert {tid: v.number for tid, v in votes.items()} == dict(enumerate(truth.numbers))  # the referee: None
    assert progress[0] == (0, 33) and progress[-1] == (33, 33)
    assert all(v.reads <= 3 for v in votes.values())


def test_the_largest_number_on_a_shirt_is_the_jersey_number(reader):
    from basketball_analyzer.sample import draw_number

    crop = np.full((90, 80, 3), RED, np.uint8)
    draw_number(crop, "5", 14, 4, 12)  # a small print in a corner (a sponsor, a logo's digits)
    draw_number(crop, "23", 46, 30, 30)
    read = reader.read(crop)
    assert read is not None and read.number == "23"


def test_loading_the_reader_sends_no_telemetry_and_leaves_no_file(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(TMPDIR=str(tmp_path), HOME=str(tmp_path))
    code = "from basketball_analyzer.players.numbers import NumberReader; NumberReader().engine"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    assert [p.name for p in tmp_path.rglob("*")] == []  # ONNX Runtime's .ses session file, its device id
