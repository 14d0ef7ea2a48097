"""The SAM 3 backend on the tiny checkpoint: the real loading code and inference path, on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from basketball_analyzer.config import load_settings
from basketball_analyzer.detection import DetectionParams, create_detector, resolve_detector_name
from basketball_analyzer.detection.sam3 import Sam3Detector, resolve_device, sam3_availability
from basketball_analyzer.exceptions import ConfigError, DetectorError
from basketball_analyzer.sample import default_players, draw_court, make_sample_clip, render_frame
from basketball_analyzer.video import Frame

W, H = 320, 180


def clip(n: int, start: int = 0):
    """Frames of the synthetic court clip, as the pipeline hands them over (BGR uint8)."""
    players, court = default_players(W, H, 3), draw_court(W, H)
    for i in range(start, start + n):
        yield Frame(i, render_frame(i, W, H, players, court)[0])


def detector(**overrides) -> Sam3Detector:
    prompts = overrides.pop("prompts", ("basketball player",))
    threshold = overrides.pop("confidence_threshold", 0.5)
    return Sam3Detector.from_settings(load_settings(**overrides), prompts=prompts,
                                      confidence_threshold=threshold)


def test_one_session_per_video_ids_never_reset(sam3_env):
    det = detector()
    assert det.device == "cpu" and det.dtype == "float32"
    seen = []
    det.model.forward = _spy(det.model.forward, seen)
    results = list(det.track(clip(40, start=100)))
    assert [int(r.frame_number[0]) for r in results] == list(range(100, 140))
    assert all(len(r) == 1 for r in results)  # the tiny model's one steady track
    assert {int(r.tracker_id[0]) for r in results} == {0}
    # One session, consecutive indices from 0 (the tracker reads its memory at fixed offsets back).
    assert [idx for _, idx in seen] == list(range(40)) and len({id(s) for s, _ in seen}) == 1
    boxes = np.concatenate([r.xyxy for r in results])
    assert (boxes[:, 2] <= W).all() and (boxes[:, 3] <= H).all() and (boxes[:, 2] > boxes[:, 0]).all()
    assert all((r.confidence >= 0.5).all() for r in results)
    assert "mask" not in results[0].data  # masks are off by default
    assert set(np.concatenate([r.labels for r in results])) == {"player"}


def _spy(forward, seen):
    def wrapped(*args, **kwargs):
        seen.append((kwargs["inference_session"], kwargs["frame_idx"]))
        return forward(*args, **kwargs)
    return wrapped


def test_duplicate_detections_are_suppressed_in_the_real_model(sam3_env):
    """The tiny model's two queries find the same thing; mask NMS keeps one (no `kernels` installed)."""
    from basketball_analyzer.detection import mask_ops

    det = detector()
    assert "PyTorch mask NMS" in det.postprocessing and "PyTorch mask NMS" in det.describe()
    births = []
    assert [r.tracker_id.tolist() for r in det.track(clip(3)) if not births.append(det.session.max_obj_id)] \
        == [[0]] * 3
    assert births == [0, 0, 0] and det.session is None  # one track born; the session is let go at the end
    capped = detector(sam3_max_objects=1)  # SAM3_MAX_OBJECTS
    mask_ops.uninstall()  # transformers without kernels: every detection kept
    try:
        results = [(r, det.session.max_obj_id) for r in det.track(clip(3))]
        assert [(len(r), born) for r, born in results] == [(2, 1)] * 3
        assert [len(r) for r in capped.track(clip(3))] == [1, 1, 1]  # the duplicate has no room
    finally:
        mask_ops.install()


def test_several_prompts_reach_the_model_once_and_label_their_boxes(sam3_env):
    det = detector(prompts=("basketball player", "referee=referee"))
    encoded = []
    text_features = det.model.detector_model.get_text_features
    det.model.detector_model.get_text_features = lambda **kw: encoded.append(kw["input_ids"]) or text_features(**kw)
    det.cross_prompt_iou = 1.01  # keep both: the tiny model finds the same whole-frame object for each prompt
    results = list(det.track(clip(12)))
    assert [int(r.frame_number[0]) for r in results] == list(range(12))
    assert len(encoded) == 2 and not encoded[0].equal(encoded[1])  # each prompt encoded once per video
    assert all(sorted(r.labels.tolist()) == ["player", "referee"] for r in results)
    det.cross_prompt_iou = 0.7  # the default: one object found by two prompts is kept once
    assert all(r.labels.tolist() == ["player"] for r in det.track(clip(6)))


def test_confidence_threshold_and_masks(sam3_env):
    assert all(len(r) == 0 for r in detector(confidence_threshold=1.0).track(clip(6)))
    with_masks = list(detector(sam3_masks=True).track(clip(4)))
    mask = with_masks[0].data["mask"]
    assert len(with_masks[0]) >= 1 and mask.shape == (len(with_masks[0]), H, W)
    assert mask.dtype == bool and mask.any()


def test_bad_device_settings_are_one_clear_error(sam3_env, monkeypatch):
    import torch

    with pytest.raises(ConfigError, match="SAM3_DTYPE"):
        resolve_device(load_settings(sam3_dtype="int3"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # also holds on a GPU machine
    with pytest.raises(ConfigError) as err:
        detector(sam3_device="cuda")
    assert "SAM3_DEVICE=cuda" in str(err.value) and "\n" not in str(err.value) and "set SAM3_DEVICE" in str(err.value)


def test_detector_cache_keeps_the_model_when_prompts_or_threshold_change(sam3_env):
    from basketball_analyzer.detection.factory import DetectorCache

    cache = DetectorCache(load_settings())
    first = cache.get(DetectionParams(detector="sam3"))
    model = first.model
    second = cache.get(DetectionParams(detector="sam3", prompts=("referee", "ball"), confidence_threshold=0.8))
    assert second is first and second.model is model
    assert second.prompts == ("referee", "ball") and second.labels == {"referee": "referee", "ball": "ball"}
    assert second.confidence_threshold == 0.8
    cache.close()
    assert first.model is None


def test_pipeline_runs_sam3_on_a_video_file(sam3_env, tmp_path):
    from basketball_analyzer.pipeline import RunStats, run_detection

    video = tmp_path / "clip.mp4"
    make_sample_clip(video, frames=20, width=W, height=H)
    stats = RunStats()
    params = DetectionParams(detector="sam3", sample_interval=2)
    results = list(run_detection(video, params, settings=load_settings(), stats=stats))
    assert [int(r.frame_number[0]) for r in results] == list(range(0, 20, 2))
    assert stats.detector == "sam3" and stats.frames == 10 and stats.tracks == {0}


def test_auto_picks_the_cpu_detector_without_a_gpu_and_says_why(sam3_env, monkeypatch):
    from basketball_analyzer.detection import sam3

    monkeypatch.setattr(sam3, "_nvidia_driver_present", lambda: False)  # also holds on a GPU machine
    settings = load_settings()
    ok, why = sam3_availability(settings)
    assert not ok and "no CUDA GPU" in why
    name, why = resolve_detector_name("auto", settings)
    assert name == "ssd" and why == "no CUDA GPU; using the CPU detector"
    assert type(create_detector(DetectionParams(detector="sam3"), settings)).__name__ == "Sam3Detector"


def test_missing_model_is_one_clear_error(sam3_env, tmp_path, monkeypatch):
    from basketball_analyzer import model_store

    monkeypatch.setattr(model_store, "IMAGE_MODEL_DIR", tmp_path / "image")
    with pytest.raises(DetectorError) as err:
        detector(cloud_model_path=str(tmp_path / "nowhere"))
    message = str(err.value)
    assert "\n" not in message
    for part in ("nowhere (does not exist)", str(tmp_path / "image"), "no facebook/sam3 snapshot",
                 "HF_HUB_OFFLINE", "accept the licence", "CLOUD_MODEL_PATH"):
        assert part in message


@pytest.mark.slow
def test_session_state_stays_flat_on_the_real_model(sam3_env):
    """The real (tiny) model on the court clip: the session's tensors hold as many bytes at frame 200 as at
    frame 50 (frames 1,000 to 10,000 were measured the same way; see docs/sam3.md); unpruned, they grow
    every frame."""
    from basketball_analyzer.detection.sam3_session import session_bytes

    def sizes(det, n, marks):
        out, frames = {}, None
        for i, _ in enumerate(det.track(clip(n))):
            if i in marks:
                out[i] = session_bytes(det.session)
            frames = det.session.processed_frames
        return out, frames

    pruned, frames = sizes(detector(), 201, (50, 200))
    assert abs(pruned[200] - pruned[50]) <= 0.1 * pruned[50], pruned
    assert len(frames) == 201 and len(dict.keys(frames)) == 1  # reports 201 frames, holds one
    det = detector()
    det.prune = False
    unpruned, _ = sizes(det, 61, (30, 60))
    assert unpruned[60] > 1.25 * unpruned[30], unpruned  # about +110 KB a frame
