"""Probing and decoding videos with PyAV, in several containers, and the errors for bad files."""

import threading

import numpy as np
import pytest

from basketball_analyzer.exceptions import VideoError
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.video import FrameReader, iter_frames, probe


@pytest.mark.parametrize("suffix,codec", [(".mp4", "libx264"), (".mkv", "libx264"), (".mov", "libx264"),
                                          (".avi", "mpeg4")])
def test_probe_and_decode_common_containers(tmp_path, suffix, codec):
    path = tmp_path / f"clip{suffix}"
    make_sample_clip(path, frames=12, width=320, height=240, fps=25, players=1, codec=codec)
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (320, 240, 12)
    assert info.fps == pytest.approx(25, rel=0.01)
    assert info.duration == pytest.approx(12 / 25, abs=0.1)
    frames = list(iter_frames(path))
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].image.shape == (240, 320, 3) and frames[0].image.dtype == np.uint8


def test_sample_interval_keeps_every_nth_frame(sample_clip):
    path, _ = sample_clip
    assert [f.index for f in iter_frames(path, sample_interval=7)] == [0, 7, 14, 21, 28, 35]


def test_background_reader_yields_same_frames_on_another_thread(sample_clip):
    path, _ = sample_clip
    seen_threads = set()
    reader = FrameReader(path, sample_interval=3, prefetch=2)
    original = reader._run

    def spy():
        seen_threads.add(threading.current_thread().name)
        original()

    reader._run = spy
    got = [(f.index, f.image.sum()) for f in reader]
    want = [(f.index, f.image.sum()) for f in iter_frames(path, sample_interval=3)]
    assert got == want
    assert seen_threads == {"frame-reader"}


def test_background_reader_stops_when_consumer_breaks(sample_clip):
    path, _ = sample_clip
    reader = FrameReader(path, prefetch=1)
    for frame in reader:
        if frame.index == 2:
            break
    reader._thread.join(timeout=5)
    assert not reader._thread.is_alive()


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="video not found"):
        probe(tmp_path / "nope.mp4")


def test_not_a_video(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(VideoError, match="not a readable video"):
        probe(bad)


def test_truncated_video_errors_in_consumer(tmp_path):
    path = tmp_path / "clip.mp4"
    make_sample_clip(path, frames=30, width=320, height=240, players=1)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError):
        probe(cut)
        list(FrameReader(cut))


def test_a_video_that_dropped_frames_is_numbered_alike_whole_seeked_and_picked(tmp_path):
    """Frame numbers are presentation times, so a whole run, a segment's seeked run and `frames_at` agree, and
    no number is given twice, on a video with a gap where three frames were dropped."""
    from basketball_analyzer.video import frames_at

    path = tmp_path / "dropped.mp4"
    make_sample_clip(path, frames=150, width=320, height=180, players=2, dropped=[100, 101, 102])
    whole = [f.index for f in iter_frames(path)]
    assert whole == sorted(set(whole)) and whole[0] == 0  # increasing: no number twice
    for start in (40, 55, 90, 110):
        assert [f.index for f in iter_frames(path, start=start)] == [i for i in whole if i >= start]
    assert [f.index for f in iter_frames(path, start=55, sample_interval=3)] == \
        [i for i in whole if i >= 55 and i % 3 == 0]
    picked = whole[::17]
    assert [f.index for f in frames_at(path, picked)] == picked
    images = {f.index: f.image for f in iter_frames(path, start=110)}
    assert all(np.array_equal(f.image, images[f.index]) for f in frames_at(path, [115, 130]))


def test_a_run_stops_at_the_frame_count_results_are_checked_against(sample_clip):
    """Import refuses frame numbers at or past the video's frame count; a stream holding more frames than its
    header counts (or time-numbered frames running past the count) must not produce them."""
    from dataclasses import replace

    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.pipeline import RunStats, run_detection

    path, _ = sample_clip
    info = replace(probe(path), frame_count=25)  # the header says 25; the stream holds 40
    stats = RunStats()
    list(run_detection(path, DetectionParams(detector="ssd"), info=info, stats=stats))
    assert stats.frames == 25 and stats.last_frame == 24
