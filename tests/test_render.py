"""`bball render`: annotated MP4s and contact sheets drawn from what the database holds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv
from click.testing import CliRunner

from basketball_analyzer.cli import cli
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import replace_detections
from basketball_analyzer.detections import Detections
from basketball_analyzer.render import (FrameAnnotator, FrameBoxes, contact_sheet_layout, render_video,
                                        sheet_frame_indices)
from basketball_analyzer.results.runs import sample_stride
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.video import iter_frames, probe
from basketball_analyzer.videos import register_video

FRAMES = 24


@pytest.fixture
def stored_clip(tmp_path):
    """A 24-frame 640x360 clip registered in the test database with its true boxes stored as detections."""
    path = tmp_path / "court.mp4"
    truth = make_sample_clip(path, frames=FRAMES, players=3)
    # Track ids whose palette colours stand out from the wooden floor, so the pixel check means something.
    truth.tracker_id = np.array([0, 9, 12])[truth.tracker_id]
    with transaction() as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, truth)
    return path, video_id, truth


def _edge_colour(image: np.ndarray, box) -> np.ndarray:
    """Median colour along a box's left edge, away from the corners and the label."""
    x1, y1, _, y2 = (int(v) for v in box)
    return np.median(image[y1 + 25:y2 - 10, x1], axis=0)


def test_rendered_mp4_has_clip_frames_and_size_and_boxes_where_the_database_says(stored_clip, tmp_path):
    path, video_id, truth = stored_clip
    out = tmp_path / "annotated.mp4"
    result = CliRunner().invoke(cli, ["render", str(video_id), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out} ({FRAMES} frames, 640x360" in result.output

    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (FRAMES, 640, 360)
    rendered = {f.index: f.image for f in iter_frames(out)}
    original = {f.index: f.image for f in iter_frames(path)}
    assert sorted(rendered) == list(range(FRAMES))
    palette = sv.ColorPalette.DEFAULT
    for frame in (3, 12, 20):
        boxes = truth[truth.frame_number == frame]
        for box, tid in zip(boxes.xyxy, boxes.tracker_id, strict=True):
            want = np.array(palette.by_idx(int(tid)).as_bgr(), float)
            drawn = _edge_colour(rendered[frame], box)
            before = _edge_colour(original[frame], box)
            assert np.abs(drawn - want).max() < 60, (frame, tid, drawn, want)
            assert np.abs(before - want).max() > 60  # the colour was not there before drawing
        # Far from every box (the court's right end) the picture is the original one.
        right = slice(600, 630)
        diff = np.abs(rendered[frame][40:320, right].astype(int) - original[frame][40:320, right].astype(int))
        assert diff.mean() < 4


def test_contact_sheet_has_expected_grid(stored_clip, tmp_path):
    _, video_id, _ = stored_clip
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, ["render", str(video_id), "--frames", "5", "--tile-width", "320",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    sheet = cv2.imread(str(out))
    # 5 tiles: 3 columns x 2 rows of 320x180 (640x360 scaled by half).
    assert sheet.shape == (360, 960, 3)
    assert (sheet[180:, 640:] == 32).all()  # the sixth slot is empty background
    first = sheet[:180, :320]
    assert first.std() > 20  # a real picture, not background


def test_render_by_path_of_registered_video(stored_clip, tmp_path):
    path, _, _ = stored_clip
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, ["render", str(path), "--frames", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(out)).shape == (270, 960, 3)


def test_render_errors_are_one_line_and_write_nothing(stored_clip, tmp_path):
    _, video_id, _ = stored_clip
    runner = CliRunner()
    cases = [
        (["render", str(video_id), "-o", str(tmp_path / "x.png")], "output must end in .mp4"),
        (["render", str(video_id), "--frames", "4", "-o", str(tmp_path / "x.mp4")],
         "output must end in .png"),
        (["render", "99", "-o", str(tmp_path / "x.mp4")], "no video with id 99"),
        (["render", str(video_id), "-o", str(tmp_path / "nope" / "x.mp4")], "output folder does not exist"),
    ]
    other = tmp_path / "other.mp4"
    make_sample_clip(other, frames=3, width=160, height=160, players=1)
    cases.append((["render", str(other), "-o", str(tmp_path / "x.mp4")], "is not registered"))

    def check(args, message):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1

    for args, message in cases:
        check(args, message)
    with transaction() as s:
        bare = register_video(s, other).video.id
    check(["render", str(bare), "-o", str(tmp_path / "x.mp4")], "has no stored detections")
    assert not list(tmp_path.glob("x.*")) and not list(tmp_path.glob(".x.*"))


def test_interrupted_render_leaves_no_file(stored_clip, tmp_path):
    path, _, truth = stored_clip
    out = tmp_path / "annotated.mp4"

    def interrupt(done, total):
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_video(path, truth, out, on_progress=interrupt)
    assert not [p.name for p in tmp_path.iterdir() if "annotated" in p.name]


def test_annotator_draws_box_in_track_colour_on_exact_pixels():
    image = np.zeros((100, 120, 3), np.uint8)
    det = Detections.for_frame(0, [[20, 30, 60, 90]], [0.9], [4])
    drawn = FrameAnnotator().annotate(image, det)
    want = sv.ColorPalette.DEFAULT.by_idx(4).as_bgr()
    assert tuple(drawn[60, 20]) == want and tuple(drawn[60, 60]) == want
    assert (drawn[60, 35:45] == 0).all()  # inside the box stays untouched
    assert (image == 0).all()  # the input is not modified


def test_sample_stride_and_held_boxes():
    sampled = Detections.merge(Detections.for_frame(f, [[f, 0, f + 10, 10]], [1.0], [1])
                               for f in range(0, 30, 3))
    assert sample_stride(sampled.frame_number, 30) == 3
    boxes = FrameBoxes(sampled, 30)
    assert boxes[4].frame_number.tolist() == [3] and boxes[5].xyxy[0, 0] == 3
    every = Detections.merge(Detections.for_frame(f, [[0, 0, 5, 5]], [1.0], [1]) for f in range(10))
    assert sample_stride(every.frame_number, 10) == 1
    # Two far-apart frames with boxes say nothing about sampling: never stretch them over 150 frames.
    sparse = Detections.merge(Detections.for_frame(f, [[0, 0, 5, 5]], [1.0], [1]) for f in (0, 150))
    assert sample_stride(sparse.frame_number, 300) == 1 and len(FrameBoxes(sparse, 300)[1]) == 0
    assert sample_stride(Detections.empty().frame_number) == 1


def test_sheet_layout_and_frame_choice():
    assert contact_sheet_layout(12, 1920, 1080).size == (4 * 480, 3 * 270)
    assert contact_sheet_layout(1, 320, 240).size == (320, 240)  # tiles are never enlarged
    assert sheet_frame_indices(300, 4) == [60, 120, 180, 240]
    assert sheet_frame_indices(150, 12) == list(range(11, 133, 11))
    assert sheet_frame_indices(3, 10) == [0, 1, 2]
    assert sheet_frame_indices(1, 1) == [0]
