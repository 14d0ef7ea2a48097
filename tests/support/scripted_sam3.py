"""A scripted stand-in for `Sam3VideoModel`: known objects, masks, per-frame scores, exits and re-entries.

No CPU can make the real model produce a controlled game, so this stand-in plays the model's part of
SAM 3's streaming loop on a real `Sam3VideoInferenceSession` (made by the real processor) and returns
real `Sam3VideoSegmentationOutput`s, which `Sam3Detector` turns into boxes through the real
`postprocess_outputs`. Like the model, it

- runs per-prompt duplicate suppression through transformers' module-level `nms_masks` (which is a
  no-op without `kernels`, and `mask_ops.mask_nms` once installed), so a duplicate detection that is not
  suppressed is born as an extra track;
- gives a detection no tracked object explains a new id (`max_obj_id + 1`), and keeps a track while its
  object is away (empty mask, low tracker score), so it comes back under its id;
- removes tracks by "hot-start" a few frames after birth (`removed_obj_ids`);
- stores per-frame outputs and reconditioning frames in the session as the tracker does (4 KB of memory
  features per object and frame), so a session that is not pruned grows.

Masks are low-resolution logits (+10 inside, -10 outside) on a `LOW` x `LOW` grid covering the frame.
The stand-in reads which video frame it is looking at from the frame's pixels (`frame_image` paints the
frame number into its colour), not from the session's frame index, so a backend that restarts sessions or
skips frames sees the game it would see with the real model.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

LOW = 64
"""Side of the low-resolution mask grid (SAM 3's is 288)."""


@dataclass
class Thing:
    """One scripted detection source: a key, its prompt, where it is (low-res cells) and its score per frame."""

    key: str
    prompt: str
    cells: Callable[[int], tuple[int, int, int, int]]  # frame -> (row0, col0, row1, col1), inclusive
    score: Callable[[int], float]
    visible: Callable[[int], bool] = lambda f: True


def default_script() -> list[Thing]:
    """Two players (each leaves and comes back), a referee, a duplicate detection of player A, the same
    person as player B also found by the referee prompt, and a short-lived false track."""

    def wave(offset: int, low: float, high: float):
        return lambda f: round(low + (high - low) * (((f * 37 + offset) % 101) / 100), 4)

    a = Thing("A", "basketball player", lambda f: (20, 5 + (f // 10) % 40, 35, 10 + (f // 10) % 40),
              wave(0, 0.55, 0.99), lambda f: not 300 <= f % 1000 < 360)
    b = Thing("B", "basketball player", lambda f: (40, 50 - (f // 25) % 30, 55, 55 - (f // 25) % 30),
              wave(17, 0.9, 0.99), lambda f: not 700 <= f % 1000 < 760)
    r = Thing("R", "referee", lambda f: (5, 30, 15, 34), wave(51, 0.5, 0.95))
    dup = Thing("A-dup", "basketball player", lambda f: tuple(v + d for v, d in zip(a.cells(f), (0, 1, 0, 1))),
                lambda f: a.score(f) - 0.05, a.visible)
    b_as_ref = Thing("B-as-referee", "referee", b.cells, wave(5, 0.6, 0.85), lambda f: 900 <= f % 1000 < 1000)
    ghost = Thing("ghost", "basketball player", lambda f: (50, 2, 55, 6), lambda f: 0.75,
                  lambda f: 500 <= f % 1000 < 503)
    return [a, b, r, dup, b_as_ref, ghost]


class ScriptedSam3:
    """Plays `Sam3VideoModel.__call__(inference_session=..., frame_idx=...)` from a script of `Thing`s."""

    def __init__(self, things: list[Thing] | None = None, hotstart_delay: int = 4, ghost_life: int = 3,
                 feature_floats: int = 1024, recondition_every: int = 16):
        self.things = things if things is not None else default_script()
        self.hotstart_delay = hotstart_delay
        self.ghost_life = ghost_life
        self.feature_floats = feature_floats
        self.recondition_every = recondition_every
        self.tracker_model = SimpleNamespace(config=SimpleNamespace(
            num_maskmem=7, max_object_pointers_in_encoder=16, max_cond_frame_num=4))

    def mask(self, cells: tuple[int, int, int, int]):
        """Low-resolution logits of a box of cells."""
        import torch

        r0, c0, r1, c1 = cells
        m = torch.full((LOW, LOW), -10.0)
        m[r0:r1 + 1, c0:c1 + 1] = 10.0
        return m

    def __call__(self, inference_session, frame_idx: int, **_):
        import torch
        from transformers.models.sam3_video import modeling_sam3_video as sam3_module

        s = inference_session
        f = frame_number(s.get_frame(frame_idx))
        keys: dict[str, int] = s.__dict__.setdefault("script_keys", {})
        births: dict[int, int] = s.__dict__.setdefault("script_births", {})
        per_frame: dict[int, float] = {}
        masks: dict[int, torch.Tensor] = {}
        # Tracked objects first (the tracker's propagation), on the frame's script.
        by_id = {v: k for k, v in keys.items()}
        things = {t.key: t for t in self.things}
        for obj_id in list(s.obj_ids):
            thing = things[by_id[obj_id]]
            here = thing.visible(f)
            masks[obj_id] = self.mask(thing.cells(f)) if here else torch.full((LOW, LOW), -10.0)
            per_frame[obj_id] = thing.score(f) if here else 0.02
            self._store(s, obj_id, f, cond=f % self.recondition_every == 0)
        # Detection with per-prompt NMS, then births of detections no track explains.
        for prompt in dict.fromkeys(t.prompt for t in self.things):
            dets = [t for t in self.things if t.prompt == prompt and t.visible(f)]
            if not dets:
                continue
            probs = torch.tensor([t.score(f) for t in dets])
            keep = sam3_module.nms_masks(probs, torch.stack([self.mask(t.cells(f)) for t in dets]), 0.5, 0.1)
            for thing, kept in zip(dets, keep.tolist()):
                # A retired track (removed from the session) no longer explains its detection.
                if not kept or keys.get(thing.key) in s.obj_ids or thing.score(f) < 0.7:
                    continue
                obj_id = s.max_obj_id + 1
                s.max_obj_id = obj_id
                keys[thing.key] = obj_id
                births[obj_id] = f
                s.obj_id_to_idx(obj_id)
                s.obj_id_to_prompt_id[obj_id] = s.add_prompt(prompt)
                s.obj_first_frame_idx[obj_id] = f
                s.obj_id_to_score[obj_id] = thing.score(f)
                s.add_mask_inputs(s.obj_id_to_idx(obj_id), f, self.mask(thing.cells(f))[None, None] > 0)
                self._store(s, obj_id, f, cond=True)
                masks[obj_id] = self.mask(thing.cells(f))
                per_frame[obj_id] = thing.score(f)
        # Hot-start: the false track is removed a few frames after its birth.
        if "ghost" in keys and keys["ghost"] in s.obj_ids and f - births[keys["ghost"]] >= self.ghost_life:
            gone = keys["ghost"]
            s.remove_object(gone)
            s.removed_obj_ids.add(gone)
            s.obj_id_to_score[gone] = -1e4
            masks.pop(gone, None)
            del keys["ghost"]  # a later appearance is a new false track
        s.obj_id_to_tracker_score_frame_wise[f].update(per_frame)
        s.suppressed_obj_ids[f] = set()
        return sam3_module.Sam3VideoSegmentationOutput(
            object_ids=list(s.obj_ids), obj_id_to_mask={k: v[None] for k, v in masks.items()},
            obj_id_to_score=dict(s.obj_id_to_score), obj_id_to_tracker_score=s.obj_id_to_tracker_score_frame_wise[f],
            removed_obj_ids=set(s.removed_obj_ids), suppressed_obj_ids=set(), frame_idx=f)

    def _store(self, s, obj_id: int, f: int, cond: bool) -> None:
        import torch

        out = {"maskmem_features": torch.zeros(self.feature_floats), "object_pointer": torch.zeros(16)}
        s.output_dict_per_obj[s.obj_id_to_idx(obj_id)]["cond_frame_outputs" if cond else "non_cond_frame_outputs"][f] = out
        s.frames_tracked_per_obj[s.obj_id_to_idx(obj_id)][f] = {"reverse": False}


def frame_image(frame: int, height: int, width: int):
    """A BGR frame whose colour encodes `frame` (red: frame % 256, green: frame // 256)."""
    import numpy as np

    image = np.zeros((height, width, 3), np.uint8)
    image[..., 2], image[..., 1] = frame % 256, (frame // 256) % 256
    return image


def frame_number(pixels) -> int:
    """Inverse of `frame_image` after the processor (resize, rescale by 1/255, normalise by mean = std =
    0.5): the frame number painted into the pixels."""
    red, green = (round((float(pixels[c].float().mean()) * 0.5 + 0.5) * 255) for c in (0, 1))
    return red + 256 * green


def expected_box(cells: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
    """The pixel box (x1, y1, x2, y2, inclusive pixel indices) of a cell box after bilinear upsampling of
    +/-10 logits to (height, width) and thresholding at 0 (half a cell's sample spacing either side)."""
    import math

    r0, c0, r1, c1 = cells
    sy, sx = height / LOW, width / LOW
    # Output pixel x samples source coordinate (x + 0.5) * LOW / width - 0.5; the logit crosses 0 halfway
    # between the centres of an inside and an outside cell.
    x1 = max(0, math.floor(c0 * sx - 0.5) + 1)
    x2 = min(width - 1, math.ceil((c1 + 1) * sx - 0.5) - 1)
    y1 = max(0, math.floor(r0 * sy - 0.5) + 1)
    y2 = min(height - 1, math.ceil((r1 + 1) * sy - 0.5) - 1)
    return x1, y1, x2, y2
