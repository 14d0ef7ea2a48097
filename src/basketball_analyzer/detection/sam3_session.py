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

`prune` drops the rest after each frame (and the masks of every stored output, which only their own
frame reads). `FrameStore` holds only the current frame's pixels while reporting the video length the
tracker would see offline. `retire_empty` removes tracks that stayed empty, `pair_outputs_by_id` fixes
transformers' pairing of tracks with masks and scores on a removal frame, and `SessionRun` drives one
session frame by frame.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class FrameStore(dict):
    """The session's `processed_frames`: keeps the newest `keep` frames (all with `keep=0`), and reports the
    length the tracker would see in transformers' offline loop over a whole video.

    The tracker reads the video length only as `min(length, max_object_pointers_in_encoder)` (how many
    object pointers it spreads its temporal encoding over); over any video at least `horizon` frames long
    that is `horizon` from the first frame on, so the store reports at least `horizon`.
    """

    def __init__(self, keep: int = 1, horizon: int = 0):
        super().__init__()
        self.keep = max(0, keep)
        self.horizon = horizon
        self.count = 0

    def __setitem__(self, index: int, pixels: Any) -> None:
        super().__setitem__(index, pixels)
        self.count = max(self.count, index + 1)
        if self.keep:
            for old in [k for k in self if k <= index - self.keep]:
                super().__delitem__(old)

    def __len__(self) -> int:
        return max(self.count, self.horizon)


def tracker_lookback(model) -> int:
    """How many previous frames of non-conditioning outputs the tracker can read."""
    cfg = model.tracker_model.config
    return max(int(cfg.num_maskmem) - 1, int(cfg.max_object_pointers_in_encoder) - 1, 1)


_READ_ONLY_ON_THEIR_FRAME = ("pred_masks", "high_res_masks")
"""Tracker outputs read only while their own frame is processed (the memory encoder's input and the frame's
result); the memory attention reads a past frame's `maskmem_*` and `object_pointer` only. Together 2.2 of
the 3.5 MB per object and frame at full size."""


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
        for kept in (non_cond, cond):
            for out in kept.values():
                for key in _READ_ONLY_ON_THEIR_FRAME:
                    out.pop(key, None)
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
    forget_departed(session, frame_idx, int(model.hotstart_delay))


def _departed(session) -> dict[int, int]:
    """Tracks that left the tracker (hot-start removal, retirement) -> the frame they left."""
    return session.__dict__.setdefault("_bball_departed_at", {})


def forget_departed(session, frame_idx: int, delay: int) -> None:
    """Tracks removed by hot-start, and retired tracks, keep scores and counters forever in transformers;
    once no held-back output can show them (older than the hot-start delay), forget them."""
    departed = _departed(session)
    for obj_id in session.removed_obj_ids:
        departed.setdefault(obj_id, frame_idx)
    for obj_id in [o for o, f in departed.items() if f < frame_idx - delay - 1]:
        for table in (session.obj_id_to_score, session.obj_first_frame_idx, session.trk_keep_alive,
                      session.obj_id_to_last_occluded, session.obj_id_to_prompt_id, session.unmatched_frame_inds):
            table.pop(obj_id, None)
        session.removed_obj_ids.discard(obj_id)
        session.hotstart_removed_obj_ids.discard(obj_id)
        del departed[obj_id]


def retire_empty(session, out, frame_idx: int, after: int) -> list[int]:
    """Remove from the tracker the tracks whose mask has been empty on the last `after` frames; return them.

    Outside hot-start transformers never removes a track, so a player who left for good costs a tracker
    pass, his memory and a mask interpolation on every later frame, and counts against `max_num_objects`.
    `after` must exceed the hot-start delay: the held-back outputs that still list a retired track then show
    it empty, so post-processing drops it before it reads its (removed) prompt.
    """
    import torch

    empty_for: dict[int, int] = session.__dict__.setdefault("_bball_empty_for", {})
    live = [o for o in session.obj_ids if o in out.obj_id_to_mask]
    if not live:
        empty_for.clear()
        return []
    shown = torch.stack([out.obj_id_to_mask[o].reshape(-1) for o in live]).gt(0).any(dim=1).tolist()
    for obj_id in [o for o in empty_for if o not in session.obj_ids]:
        del empty_for[obj_id]
    retired = []
    for obj_id, visible in zip(live, shown):
        empty_for[obj_id] = 0 if visible else empty_for.get(obj_id, 0) + 1
        if empty_for[obj_id] >= after:
            retired.append(obj_id)
    for obj_id in retired:
        session.remove_object(obj_id)
        del empty_for[obj_id]
        _departed(session)[obj_id] = frame_idx
    return retired


def pair_outputs_by_id(model) -> None:
    """Make `model`'s frame step pair each track with its own mask and score on the frame one is removed.

    transformers' `_det_track_one_frame` removes hot-start's tracks from the session (which shortens
    `obj_ids`) before it pairs `obj_ids` with the tracker's masks and scores by position, so on that frame
    every track listed after a removed one shows its neighbour's mask, box and score. Here the removals wait
    until the frame's outputs are built, then happen as transformers does them; the removed track's mask
    is left out and its score set to -1e4, as transformers intends. Idempotent; models without the method
    (stand-ins) are left alone.
    """
    if getattr(model, "_bball_pairs_by_id", False) or not hasattr(model, "_det_track_one_frame"):
        return
    one_frame = model._det_track_one_frame

    def _det_track_one_frame(inference_session, frame_idx, reverse, streaming=False):
        deferred: list[int] = []
        inference_session.remove_object = lambda obj_id, strict=False: deferred.append(obj_id)
        try:
            masks, scores, metadata, tracker_scores = one_frame(
                inference_session=inference_session, frame_idx=frame_idx, reverse=reverse, streaming=streaming)
        finally:
            del inference_session.remove_object  # the class's method again
        for obj_id in deferred:
            inference_session.remove_object(obj_id, strict=False)
            masks.pop(obj_id, None)
            metadata["obj_id_to_tracker_score_frame_wise"][frame_idx][obj_id] = -1e4
        return masks, scores, metadata, tracker_scores

    model._det_track_one_frame = _det_track_one_frame
    model._bball_pairs_by_id = True


class SessionRun:
    """One SAM 3 streaming session over consecutive frames: runs the model on each, retires tracks that
    stayed empty, prunes, and releases each frame's output once SAM 3's hot-start delay has passed (as
    transformers' `propagate_in_video_iterator` does, so tracks removed as unconfirmed or duplicate within
    it are never emitted)."""

    def __init__(self, model, session, prune: bool = True, retire_after: int = 0):
        self.model, self.session = model, session
        self.prune, self.retire_after = prune, retire_after
        self.delay = max(1, int(getattr(model, "hotstart_delay", 0) or 0))
        self.steps = 0
        self.pending: deque = deque()

    def feed(self, item) -> list:
        """Run the model on `item` (its `pixels`); return the (item, output) pairs now released."""
        import torch

        session, step = self.session, self.steps
        with torch.inference_mode():
            # Consecutive session indices (not video frame numbers, which skip when sampling): the tracker
            # reads its memory at fixed offsets back from the current index.
            session.add_new_frame(item.pixels, step)
            out = self.model(inference_session=session, frame_idx=step)
        session.hotstart_removed_obj_ids.update(out.removed_obj_ids or ())
        self.pending.append((item, out))
        self.steps += 1
        if self.retire_after > 0:
            retire_empty(session, out, step, self.retire_after)
        if self.prune:
            prune(session, self.model, step)
        return [self.pending.popleft()] if len(self.pending) >= self.delay else []

    def drain(self) -> list:
        """The outputs still held back (the input has ended)."""
        released, self.pending = list(self.pending), deque()
        return released


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
