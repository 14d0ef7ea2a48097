"""The SAM 3 backend on a tiny model whose masks depend on its memory (memory_sam3.py): pruning changes no
raw mask, the removal frame pairs each track with its own mask and score, one box per player when two
prompts share a label."""

from __future__ import annotations

import numpy as np
import pytest

from basketball_analyzer.detection.sam3 import Sam3Detector
from basketball_analyzer.sample import default_players, draw_court, render_frame
from basketball_analyzer.video import Frame

W, H = 320, 180
FRAMES = 48  # conditioning frames 0, 16, 32 (and 48): within the cap of 4, where pruning must be exact


def clip(n: int):
    players, court = default_players(W, H, 3), draw_court(W, H)
    for i in range(n):
        yield Frame(i, render_frame(i, W, H, players, court)[0])


def raw_masks(model, processor, n: int, monkeypatch, **options) -> tuple[list[dict], list]:
    """Each frame's raw low-resolution masks (obj id -> logits) as the model returned them, and the boxes."""
    raw: list[dict] = []
    forward = model.forward

    def recording(**kwargs):
        held = {key for per_obj in kwargs["inference_session"].output_dict_per_obj.values()
                for outputs in per_obj.values() for out in outputs.values() for key in out}
        if options.get("prune", True) and raw:  # what past frames' outputs still hold
            assert held and not held & {"pred_masks", "high_res_masks"}, held
        out = forward(**kwargs)
        raw.append({k: v.clone() for k, v in out.obj_id_to_mask.items()})
        return out

    monkeypatch.setattr(model, "forward", recording)
    det = Sam3Detector(model, processor, confidence_threshold=0.0, prefetch=1, **options)
    results = list(det.track(clip(n)))
    monkeypatch.undo()
    return raw, results


def same(a: list[dict], b: list[dict]) -> list[bool]:
    return [x.keys() == y.keys() and all(x[k].equal(y[k]) for k in x) for x, y in zip(a, b)]


def test_pruning_changes_no_raw_mask_of_a_model_that_reads_its_memory(memory_sam3, monkeypatch):
    """Pruned (frame store of one frame, 15 frames of outputs, masks of past frames dropped) against
    transformers' own offline loop over the whole video, fed the same pixels and never pruned: every raw
    mask is equal. The
    offline loop sees the video's length, so this also holds on the first 15 frames."""
    import torch

    from basketball_analyzer.detection import sam3_session

    model, processor = memory_sam3
    pruned, results = raw_masks(model, processor, FRAMES, monkeypatch)
    assert all(len(r) == 1 for r in results)

    det = Sam3Detector(model, processor, prefetch=1)
    session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)
    session.video_height, session.video_width = H, W
    for frame in clip(FRAMES):
        session.add_new_frame(det._prepare(frame).pixels, frame.index)
    processor.add_text_prompt(session, ["basketball player"])
    offline = [{k: v.clone() for k, v in out.obj_id_to_mask.items()}
               for out in model.propagate_in_video_iterator(session)]
    assert len(offline) == FRAMES and all(same(pruned, offline)), same(pruned, offline)

    # The comparison can see memory: a pruning that keeps no non-conditioning memory changes most masks.
    monkeypatch.setattr(sam3_session, "tracker_lookback", lambda model: 0)
    forgetful, _ = raw_masks(model, processor, FRAMES, monkeypatch)
    assert sum(not s for s in same(pruned, forgetful)) >= FRAMES * 3 // 4


def test_on_the_frame_a_track_is_removed_the_others_keep_their_own_masks_and_scores(memory_sam3, monkeypatch):
    """Hot-start is made to remove track 0 of [0, 1] at frame 6: track 1 keeps its own tracker mask and
    score (transformers pairs them by position after the removal, so track 1 got track 0's). The referee
    prompt finds nothing on frames 0-2, so its track is born later than track 0 and remembers otherwise."""
    import torch

    model, processor = memory_sam3
    rows: dict[int, tuple[list[int], torch.Tensor, torch.Tensor]] = {}
    propagate, hotstart, detect = model.run_tracker_propagation, model._process_hotstart, model.run_detection
    frame = {"index": 0}

    def late_referee(inference_session, vision_embeds):
        found = detect(inference_session=inference_session, vision_embeds=vision_embeds)
        if frame["index"] < 3:
            found[1] = {key: value[:0] for key, value in found[1].items()}
        return found

    def recording_propagation(inference_session, frame_idx, reverse):
        frame["index"] = frame_idx + 1  # detection of the next frame follows
        masks, scores = propagate(inference_session=inference_session, frame_idx=frame_idx, reverse=reverse)
        rows[frame_idx] = (list(inference_session.obj_ids), masks.clone(), scores.clone())
        return masks, scores

    def removing_hotstart(**kwargs):
        removed, metadata = hotstart(**kwargs)
        if kwargs["frame_idx"] == 6:
            removed.add(0)
            metadata["removed_obj_ids"].add(0)
        return removed, metadata

    monkeypatch.setattr(model, "run_tracker_propagation", recording_propagation)
    monkeypatch.setattr(model, "_process_hotstart", removing_hotstart)
    monkeypatch.setattr(model, "run_detection", late_referee)
    outs = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda **kw: outs.append(forward(**kw)) or outs[-1])
    det = Sam3Detector(model, processor, prompts=("basketball player", "referee"), confidence_threshold=0.0,
                       cross_prompt_iou=1.01, prefetch=1)
    results = list(det.track(clip(10)))
    ids, masks, scores = rows[6]
    assert ids == [0, 1] and not masks[0].equal(masks[1])  # two tracks with different masks
    out = outs[6]
    assert set(out.obj_id_to_mask) == {1} and out.object_ids == [1]
    assert out.obj_id_to_mask[1][0].equal(masks[1])
    assert out.obj_id_to_tracker_score[1] == pytest.approx(float(scores[1].sigmoid()))
    assert out.obj_id_to_tracker_score[0] == -1e4
    # Removed within the hot-start delay, track 0 is never shown (the player found again is a new track).
    assert results[6].tracker_id.tolist() == [1] and results[6].labels.tolist() == ["referee"]
    assert all(0 not in r.tracker_id for r in results)


def test_prompts_that_share_a_label_give_one_box_per_object(memory_sam3):
    """"basketball player" and "person" are both `player`: the two prompts' tracks of one object are one box."""
    model, processor = memory_sam3
    det = Sam3Detector(model, processor, prompts=("basketball player", "person"), prefetch=1)
    results = list(det.track(clip(6)))
    assert [len(r) for r in results] == [1] * 6
    assert np.concatenate([r.labels for r in results]).tolist() == ["player"] * 6
    det.cross_prompt_iou = 1.01  # both tracks exist: the suppression, not the model, made them one
    assert [len(r) for r in det.track(clip(6))] == [2] * 6
