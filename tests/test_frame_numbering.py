"""One frame numbering on real-world timestamps: frame N is the N-th frame presented, whatever the file's first
timestamp, its rate's fraction, a variable rate or dropped frames; whole, seeked and picked decodes agree, the
registered timing says how to find frame N by time, and the first frame has its boxes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from basketball_analyzer.sample import frame_times, make_sample_clip
from basketball_analyzer.video import frames_at, iter_frames, probe

KINDS = {
    "late start": dict(start_time=1 / 15),  # the school clip: first frame at 66.7 ms
    "ntsc rate": dict(fps=Fraction(30000, 1001), start_time=0.5),
    "variable rate": dict(variable=True),
    "dropped frames": dict(dropped=[40, 41, 42, 77]),
}
FRAMES = 120


@pytest.fixture(scope="module", params=list(KINDS), ids=list(KINDS))
def clip(request, tmp_path_factory):
    kw = KINDS[request.param]
    path = tmp_path_factory.mktemp("timing") / "clip.mp4"
    truth = make_sample_clip(path, frames=FRAMES, width=320, height=180, players=2, **kw)
    return request.param, path, truth, frame_times(FRAMES, **kw)


def test_whole_seeked_and_picked_decodes_agree(clip):
    _, path, truth, times = clip
    whole = {f.index: f.image for f in iter_frames(path)}
    assert sorted(whole) == list(range(len(times)))  # every presented frame, numbered from 0, no gaps
    assert sorted(set(truth.frame_number.tolist())) == list(range(len(times)))
    for start in (17, 45, 90):  # 45 and 90 lie past a seek's margin
        seeked = list(iter_frames(path, start=start, end=start + 12))
        assert [f.index for f in seeked] == list(range(start, start + 12))
        assert all(np.array_equal(f.image, whole[f.index]) for f in seeked)
    sampled = [f.index for f in iter_frames(path, start=50, sample_interval=4)]
    assert sampled == [i for i in range(50, len(times)) if i % 4 == 0]
    picked = list(frames_at(path, [101, 3, 60, len(times) + 5]))
    assert [f.index for f in picked] == [3, 60, 101]
    assert all(np.array_equal(f.image, whole[f.index]) for f in picked)


def test_timing_gives_each_frame_its_presentation_time(clip):
    kind, path, _, times = clip
    info = probe(path, exact=True)
    assert info.frame_count == len(times)
    timing = info.timing
    want = np.array([t for _, t in times])
    assert np.abs(timing.times - want).max() < 1e-3
    assert timing.start == pytest.approx(want[0], abs=1e-3)
    assert timing.mode == ("constant" if kind in ("late start", "ntsc rate") else "variable")
    if kind == "ntsc rate":
        assert info.fps == pytest.approx(30000 / 1001, abs=1e-6)
        # frame N is at start + N / rate to well within half a frame, at the end of the clip too
        assert np.abs(timing.start + np.arange(len(times)) / info.fps - timing.times).max() < 1e-3


def test_a_header_rate_the_timestamps_contradict_loses(tmp_path):
    """The school clip's header said 30.136 fps for frames 1/30 s apart; frame times decide."""
    import av

    path = tmp_path / "odd.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(30136, 1000))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 90000)
        for i in range(60):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 4, np.uint8), format="bgr24")
            frame.pts, frame.time_base = 6000 + i * 3000, Fraction(1, 90000)
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    info = probe(path, exact=True)
    assert info.fps == pytest.approx(30.0, abs=1e-6) and info.frame_count == 60
    assert info.timing.mode == "constant"


def test_registration_keeps_the_timing_and_the_api_gives_it(db_url, tmp_path):
    from basketball_analyzer.browse import summary
    from basketball_analyzer.db import transaction
    from basketball_analyzer.videos import register_video

    vfr = tmp_path / "vfr.mp4"
    make_sample_clip(vfr, frames=50, width=160, height=96, players=1, variable=True)
    late = tmp_path / "late.mp4"
    make_sample_clip(late, frames=50, width=160, height=96, players=1, start_time=0.2)
    with transaction(db_url) as s:
        a = register_video(s, vfr).video.id
        b = register_video(s, late).video.id
    with transaction(db_url) as s:
        ta, tb = summary(s, a, counts=False).timing, summary(s, b, counts=False).timing
    want = [t for _, t in frame_times(50, variable=True)]
    assert ta["mode"] == "variable" and len(ta["times"]) == 50
    assert np.abs(np.array(ta["times"]) - want).max() < 1e-3
    assert tb["mode"] == "constant" and tb["times"] is None
    assert tb["start"] == pytest.approx(0.2, abs=1e-3) and tb["rate"] == pytest.approx(30)


def test_video_show_says_constant_or_variable(db_url, tmp_path):
    from click.testing import CliRunner

    from basketball_analyzer.cli import cli

    path = tmp_path / "vfr.mp4"
    make_sample_clip(path, frames=30, width=160, height=96, players=1, variable=True)
    runner = CliRunner()
    assert runner.invoke(cli, ["video", "add", str(path)]).exit_code == 0
    out = runner.invoke(cli, ["video", "show", "1"], terminal_width=200)
    assert out.exit_code == 0
    assert "variable" in out.output and "first frame at 0.000 s" in out.output


def test_migration_fills_the_timing_of_videos_registered_before(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from basketball_analyzer.db.engine import _MIGRATIONS, _create, migrate

    clip = tmp_path / "late.mp4"
    make_sample_clip(clip, frames=20, width=160, height=96, players=1, start_time=0.5)
    engine = _create(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    with engine.begin() as conn:
        for vid, path in ((1, str(clip)), (2, str(tmp_path / "gone.mp4"))):
            conn.execute(text("INSERT INTO videos (id, path, file_name, size_bytes, sha256, fps, frame_count, "
                              "width, height, duration, created_at) VALUES (:id, :p, 'a', 1, :h, 30, 20, 160, 96, "
                              "1, '2026-01-01')"), {"id": vid, "p": path, "h": f"h{vid}"})
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, start_time, frame_rate_mode FROM videos ORDER BY id")).all()
    engine.dispose()
    assert rows[0][2] == "constant" and rows[0][1] == pytest.approx(0.5, abs=1e-3)
    assert rows[1][1:] == (None, None)  # the file is gone: timing unknown, the upgrade still succeeds


@pytest.mark.parametrize("detector", ["ssd", "hog"])
def test_the_first_frame_has_its_boxes_in_a_whole_run_and_a_segment(sample_clip, detector):
    """ByteTrack names a track on its second frame; its first box must still be stored under its id."""
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.pipeline import run_detection

    path, _ = sample_clip
    whole = list(run_detection(path, DetectionParams(detector=detector)))
    assert len(whole[0]) == len(whole[1]) > 0 and whole[0].frame_number.tolist() == [0] * len(whole[0])
    assert set(whole[0].track_ids()) == set(whole[1].track_ids())  # the same tracks, not new ones
    segment = list(run_detection(path, DetectionParams(detector=detector), frame_range=(20, 40)))
    assert segment[0].frame_number[0] == 20 and len(segment[0]) == len(whole[20])


def test_picking_frames_far_apart_in_long_gops_ends(tmp_path):
    """A keyframe every 300 frames lies further back than a seek's reach: picking frames 200 apart must still
    finish, with the right pictures (it once seeked back to the same keyframe for ever)."""
    import av

    path = tmp_path / "long_gop.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.options = {"g": "300", "keyint_min": "300", "sc_threshold": "0", "preset": "ultrafast"}
        for i in range(900):
            img = np.zeros((64, 64, 3), np.uint8)
            img[:, : (i % 64) + 1] = 255
            img[0, 0] = (i // 64) * 16
            for p in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    picks = [10, 250, 480, 700, 890]
    whole = {f.index: f.image for f in iter_frames(path) if f.index in picks}
    got = list(frames_at(path, picks))
    assert [f.index for f in got] == picks
    assert all(np.array_equal(f.image, whole[f.index]) for f in got)
