"""One SAM 3 session for a whole video, pruned as it goes so its state stays flat.

transformers' `Sam3VideoInferenceSession` keeps, for every object, the tracker's outputs of every frame
(masks, memory features, object pointers), plus per-frame metadata that `Sam3VideoModel` deep-copies on
every frame (so time per frame grows too). What the model reads back (transformers 5.x,
`sam3_tracker_video/modeling_sam3_tracker_video.py` and `sam3_video/modeling_sam3_video.py`):

- non-conditioning outputs of the previous `num_maskmem - 1` frames (memory features) and of the previous
  `max_object_pointers_in_encoder - 1` frames (object pointers);
- conditioning outputs (a track's first frame and every reconditioning, one per 16 frames): the memory
  attention selects the `max_cond_frame_num` nearest; transformers also takes object pointers from all of
  them, which SAM 2/3's reference code does not (it uses the selected ones only), so keeping the selected
  ones restores the reference behaviour instead of growing the attention forever;
- per-frame metadata (tracker scores, suppressed ids) of the current frame only; hot-start bookkeeping
  (unmatched frames, overlap pairs) of tracks still inside their hot-start period.

`prune` drops the rest after each frame. `FrameStore` holds only the current frame's pixels while
reporting the number of frames seen so far, which the tracker reads as the video length.
"""

from __future__ import annotations

from typing import Any


class FrameStore(dict):
    """The session's `processed_frames`: keeps the newest frames only, but its length is the number of
    frames added so far (the tracker bounds its look-back by it)."""

    def __init__(self, keep: int = 1):
        super().__init__()
        self.keep = max(1, keep)
        self.count = 0

    def __setitem__(self, index: int, pixels: Any) -> None:
        super().__setitem__(index, pixels)
        self.count = max(self.count, index + 1)
        for old in [k for k in self if k <= index - self.keep]:
            super().__delitem__(old)

    def __len__(self) -> int:
        return self.count


def tracker_lookback(model) -> int:
    """How many previous frames of non-conditioning outputs the tracker can read."""
    cfg = model.tracker_model.config
    return max(int(cfg.num_maskmem) - 1, int(cfg.max_object_pointers_in_encoder) - 1, 1)


def prune(session, model, frame_idx: int) -> None:
    """Drop from `session` everything the model will not read again after `frame_idx`."""
    lookback = tracker_lookback(model)
    oldest = frame_idx - lookback + 1  # the next frame reads back to frame_idx + 1 - lookback
    max_cond = int(model.tracker_model.config.max_cond_frame_num)
    for outputs in session.output_dict_per_obj.values():
        non_cond = outputs["non_cond_frame_outputs"]
        for f in [f for f in non_cond if f < oldest]:
            del non_cond[f]
        cond = outputs["cond_frame_outputs"]
        if max_cond > 0 and len(cond) > max_cond:
            # Nearest to the frames still to come are the newest; recent ones also serve as plain memory.
            for f in sorted(cond)[:-max_cond]:
                if f < oldest:
                    del cond[f]
    for per_obj in (session.frames_tracked_per_obj, session.mask_inputs_per_obj, session.point_inputs_per_obj):
        for frames in per_obj.values():
            for f in [f for f in frames if f < frame_idx]:
                del frames[f]
    for per_frame in (session.obj_id_to_tracker_score_frame_wise, session.suppressed_obj_ids):
        for f in [f for f in per_frame if f < frame_idx]:
            del per_frame[f]
    # Hot-start heuristics look only at tracks born after frame_idx - hotstart_delay (and the next frame
    # moves that bound forward), so older tracks' records can go.
    settled = frame_idx - int(model.hotstart_delay) + 1
    first = session.obj_first_frame_idx
    for obj_id in [o for o in session.unmatched_frame_inds if first.get(o, frame_idx) <= settled]:
        del session.unmatched_frame_inds[obj_id]
    for pair in [p for p in session.overlap_pair_to_frame_inds if first.get(p[1], frame_idx) <= settled]:
        del session.overlap_pair_to_frame_inds[pair]
    _forget_removed(session, frame_idx, int(model.hotstart_delay))


def _forget_removed(session, frame_idx: int, delay: int) -> None:
    """Tracks removed by hot-start keep a score and counters forever in transformers; once no held-back
    output can show them (older than the hot-start delay), forget them."""
    removed_at = session.__dict__.setdefault("_bball_removed_at", {})
    for obj_id in session.removed_obj_ids:
        removed_at.setdefault(obj_id, frame_idx)
    for obj_id in [o for o, f in removed_at.items() if f < frame_idx - delay - 1]:
        for table in (session.obj_id_to_score, session.obj_first_frame_idx, session.trk_keep_alive,
                      session.obj_id_to_last_occluded, session.obj_id_to_prompt_id):
            table.pop(obj_id, None)
        session.removed_obj_ids.discard(obj_id)
        session.hotstart_removed_obj_ids.discard(obj_id)
        del removed_at[obj_id]


def session_bytes(session) -> int:
    """Bytes of tensor storage reachable from the session's state (each storage counted once)."""
    import torch

    seen_storage: set[int] = set()
    seen_obj: set[int] = set()
    total = 0
    stack: list[Any] = [vars(session)]
    while stack:
        item = stack.pop()
        if id(item) in seen_obj:
            continue
        seen_obj.add(id(item))
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            key = storage.data_ptr()
            if key not in seen_storage:
                seen_storage.add(key)
                total += storage.nbytes()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.append(vars(item))
    return total
