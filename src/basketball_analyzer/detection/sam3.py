"""GPU backend: Meta's SAM 3 (transformers `Sam3VideoModel`) prompted with text, one session per video.

The video runs in one streaming session (a fresh one takes over every 90,000 frames, carrying ids by
their boxes), so SAM 3's memory follows each player and ids do not restart; `sam3_session` prunes after
every frame what the model will not read again and retires tracks that stayed empty, so memory stays flat.
Duplicate detections are suppressed by `mask_ops` where transformers would need the optional `kernels`
package. Each box carries the label of the prompt that found it and a per-frame confidence (see
`Sam3Detector`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Settings
from ..detections import Detections
from ..exceptions import ConfigError, DetectorError
from ..model_store import HOW_TO_GET, find_model, resolve_device
from ..prefetch import Prefetcher
from ..video import Frame
from .base import DEFAULT_PROMPT, Detector, parse_prompt
from .stitching import IdStitcher, box_iou

log = logging.getLogger(__name__)

def require_device(device: str) -> None:
    """One clear error when SAM3_DEVICE names a CUDA device this machine does not have."""
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"SAM3_DEVICE={device} but no CUDA GPU is usable here (torch {torch.__version__}, "
                          "driver or GPU missing); set SAM3_DEVICE=auto or cpu")


def _nvidia_driver_present() -> bool:
    """A cheap check before importing torch (seconds): is any NVIDIA driver loaded on this machine?"""
    import glob
    import os

    return os.path.exists("/proc/driver/nvidia/version") or bool(glob.glob("/dev/nvidia[0-9]*"))


def sam3_availability(settings: Settings) -> tuple[bool, str]:
    """Whether `auto` should pick SAM 3: the libraries, a CUDA GPU and a local model must all be present.

    Cheap checks come first, so a machine without a GPU or a model never pays for importing torch.
    """
    import importlib.util


    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        return False, "SAM 3 needs torch and transformers>=5 (install the 'sam3' extra)"
    lookup = find_model(settings, allow_hub=False)
    if lookup.location is None:
        return False, "no local SAM 3 model (looked in: " + "; ".join(lookup.looked) + ")"
    wanted = (settings.sam3_device or "auto").strip().lower()
    if wanted not in ("auto",) and not wanted.startswith("cuda"):
        return False, f"SAM3_DEVICE={settings.sam3_device}, not a GPU"
    if not _nvidia_driver_present():
        return False, "no CUDA GPU"
    try:
        import torch
        from transformers import Sam3VideoModel  # noqa: F401
    except ImportError:
        return False, "SAM 3 needs torch and transformers>=5 (install the 'sam3' extra)"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU"
    return True, f"GPU {torch.cuda.get_device_name(0)} and SAM 3 at {lookup.location.source}"


def load_sam3(source: str, local: bool, device: str, dtype: str):
    """Load (model, processor) from a directory (`local_files_only`) or the hub id; one clear error on failure."""
    import torch
    from transformers import Sam3VideoModel, Sam3VideoProcessor


    kwargs = {"local_files_only": True} if local else {}
    try:
        processor = Sam3VideoProcessor.from_pretrained(source, **kwargs)
        model = Sam3VideoModel.from_pretrained(source, dtype=getattr(torch, dtype), **kwargs)
    except Exception as exc:  # noqa: BLE001 - safetensors and hub errors share no base class; all mean "cannot load"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise DetectorError(f"cannot load SAM 3 from {source} ({type(exc).__name__}: {first}); the copy may be "
                            f"truncated or corrupt: replace it (`bball models stage`, or `hf download`); "
                            f"{HOW_TO_GET}") from None
    try:
        return model.to(device).eval(), processor
    except (RuntimeError, AssertionError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DetectorError(f"cannot move SAM 3 to {device}: {first}; set SAM3_DEVICE=cpu or auto") from None


@dataclass(frozen=True)
class _Input:
    """One preprocessed frame: its index, the model input on the device, and the original (height, width)."""

    index: int
    pixels: Any
    size: tuple[int, int]


class Sam3Detector(Detector):
    """SAM 3 video detection and tracking with text prompts, in one pruned session per video.

    Each box's confidence is SAM 3's per-frame evidence for that object on that frame: the tracker's
    object score (sigmoid of its object-score logit: how sure it is the object is visible here), and on the
    frame a track is born, the detector's score for it. `confidence_threshold` filters boxes frame by frame.
    A track whose mask stays empty for `retire_after_s` seconds leaves the tracker (0: never).
    """

    name = "sam3"
    session_frames = 90_000
    """Frames one session runs: well before transformers' 100,000 (see `track`)."""
    handover_frames = 30
    """Released frames on which a new session runs beside the old one before taking over its ids."""

    def __init__(self, model, processor, prompts: Iterable[str] = (DEFAULT_PROMPT,),
                 confidence_threshold: float = 0.5, device: str = "cpu", dtype: str = "float32",
                 masks: bool = False, cross_prompt_iou: float = 0.7, source: str = "", prefetch: int = 4,
                 prune: bool = True, max_objects: int = 0, retire_after_s: float = 10.0):
        from .mask_ops import install
        from .sam3_session import pair_outputs_by_id

        self.model, self.processor = model, processor
        self.device, self.dtype = device, dtype
        self.masks, self.source, self.prefetch, self.prune = masks, source, prefetch, prune
        self.cross_prompt_iou = cross_prompt_iou
        self.retire_after_s = retire_after_s
        if max_objects > 0:
            # SAM 3 then keeps the best-scoring new detections only while fewer than this many are tracked;
            # each tracked object costs a tracker pass per frame.
            self.model.max_num_objects = max_objects
        pair_outputs_by_id(self.model)
        self.configure(prompts, confidence_threshold)
        self.postprocessing = install()
        log.info("SAM 3 duplicate suppression: %s", self.postprocessing)

    def configure(self, prompts: Iterable[str], confidence_threshold: float) -> None:
        """Change prompts and threshold for the next `track` call; the loaded model is kept."""
        parsed = [parse_prompt(p) for p in prompts if p and p.strip()] or [parse_prompt(DEFAULT_PROMPT)]
        self.labels = dict(parsed)  # model text -> label
        self.prompts = tuple(self.labels)
        self.confidence_threshold = float(confidence_threshold)

    @classmethod
    def from_settings(cls, settings: Settings, prompts: Iterable[str] = (DEFAULT_PROMPT,),
                      confidence_threshold: float = 0.5) -> Sam3Detector:
        """Find the model (local first), load it on the configured device and dtype, and log from where."""

        location = find_model(settings).require()
        device, dtype = resolve_device(settings)
        require_device(device)
        log.info("loading SAM 3 from %s (%s) on %s in %s", location.source, location.origin, device, dtype)
        model, processor = load_sam3(location.source, location.local, device, dtype)
        return cls(model, processor, prompts=prompts, confidence_threshold=confidence_threshold, device=device,
                   dtype=dtype, masks=settings.sam3_masks, cross_prompt_iou=settings.sam3_cross_prompt_iou,
                   source=location.source, max_objects=settings.sam3_max_objects)

    def describe(self) -> str:
        """Which model, where, with which prompts and duplicate suppression."""
        prompts = [f"{text} -> {label}" for text, label in self.labels.items()]
        return (f"sam3 {self.source or '(in-memory model)'} on {self.device} {self.dtype}, prompts {prompts}, "
                f"one {'pruned ' if self.prune else ''}session per video, {self.postprocessing}")

    def close(self) -> None:
        """Drop the model; on CUDA hand its memory back."""
        if self.model is None:
            return
        self.model = self.processor = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # -- tracking -----------------------------------------------------------------------------------
    def track(self, frames: Iterable[Frame], fps: float = 30.0) -> Iterator[Detections]:
        """Yield each frame's tracked boxes in input order; ids hold for the whole video.

        One session runs until `session_frames`; then a fresh one starts and runs beside it for
        `handover_frames` released frames, and its tracks take over the ids of the old one's by their boxes
        on those frames (`IdStitcher`). transformers marks tracks hot-start removed as last occluded at
        session frame 100,000, after which live tracks would be blanked in their place.
        """
        from .sam3_session import SessionRun

        if self.model is None:
            raise DetectorError("this SAM 3 detector was closed; create a new one")
        self.session = None  # the running session, readable while tracking (tests, benchmarks)
        self.sessions_started = 0
        retire_after = self.retire_frames(fps)
        prefetch = Prefetcher(frames, self._prepare, self.prefetch, name="sam3-prefetch")
        if not self.masks:
            # postprocess_outputs takes boxes before making full-resolution masks non-overlapping; without
            # stored masks that step (a per-pixel argmax over all objects at video size) is wasted work.
            self.processor._apply_object_wise_non_overlapping_constraints = _masks_unchanged
        current: SessionRun | None = None
        incoming: SessionRun | None = None
        to_global = None  # the first session's ids are the video's
        tail: list[Detections] = []  # the old session's output while the new one runs beside it
        handover: list[Detections] = []  # the new session's output on the same frames, its own ids
        top = -1  # highest id emitted so far
        try:
            for item in prefetch:
                if current is None:
                    current = self._new_run(item.size, retire_after)
                elif incoming is None and current.steps >= self.session_frames - self.handover_frames - current.delay:
                    incoming = self._new_run(item.size, retire_after)
                released = current.feed(item)
                if incoming is not None:
                    handover += [self._detections(incoming.session, *r) for r in incoming.feed(item)]
                for pair in released:
                    det = self._detections(current.session, *pair, to_global=to_global)
                    top = max(top, int(det.tracker_id.max(initial=-1)))
                    if incoming is not None:
                        tail.append(det)
                    yield det
                if incoming is not None and len(handover) >= self.handover_frames:
                    stitcher = IdStitcher(first_id=top + 1)
                    carried = stitcher.start_window(Detections.merge(tail), Detections.merge(handover))
                    log.info("SAM 3 session %d takes over from frame %d, %d of its tracks keep their ids",
                             self.sessions_started, int(handover[0].frame_number[0]) if len(handover[0]) else -1,
                             len(carried))
                    current, incoming, to_global, tail, handover = incoming, None, stitcher.to_global, [], []
                self.session = current.session
            if current is not None:
                for pair in current.drain():
                    yield self._detections(current.session, *pair, to_global=to_global)
        finally:
            prefetch.close()
            self.processor.__dict__.pop("_apply_object_wise_non_overlapping_constraints", None)
            # A cached detector waits between jobs; its last session must not hold GPU memory meanwhile.
            self.session = current = incoming = None

    def retire_frames(self, fps: float) -> int:
        """Frames a track may stay empty before it is retired (0: never); always past the hot-start delay."""
        if self.retire_after_s <= 0:
            return 0
        delay = max(1, int(getattr(self.model, "hotstart_delay", 0) or 0))
        return max(delay + 1, round(self.retire_after_s * (fps if fps and fps > 0 else 30.0)))

    def _prepare(self, frame: Frame) -> _Input:
        import torch

        rgb = np.ascontiguousarray(frame.image[..., ::-1])
        with torch.inference_mode():
            batch = self.processor(images=rgb, device=self.device, return_tensors="pt")
            pixels = batch["pixel_values"][0].to(self.device, dtype=getattr(torch, self.dtype), non_blocking=True)
        return _Input(frame.index, pixels, (int(frame.image.shape[0]), int(frame.image.shape[1])))

    def _new_run(self, size: tuple[int, int], retire_after: int):
        import torch

        from .sam3_session import FrameStore, SessionRun

        session = self.processor.init_video_session(inference_device=self.device,
                                                    dtype=getattr(torch, self.dtype))
        session.video_height, session.video_width = size
        horizon = int(self.model.tracker_model.config.max_object_pointers_in_encoder)
        session.processed_frames = FrameStore(keep=1 if self.prune else 0, horizon=horizon)
        self.processor.add_text_prompt(session, list(self.prompts))
        self.sessions_started += 1
        return SessionRun(self.model, session, prune=self.prune, retire_after=retire_after)

    def _detections(self, session, item: _Input, out, to_global=None) -> Detections:
        import torch

        with torch.inference_mode():
            result = self.processor.postprocess_outputs(session, out)
        ids = result["object_ids"].cpu().numpy()
        per_frame = out.obj_id_to_tracker_score or {}
        scores = np.array([per_frame.get(int(i), 0.0) for i in ids], np.float32).reshape(-1)
        boxes = result["boxes"].float().cpu().numpy().reshape(-1, 4)
        prompt_of = {int(i): text for text, obj_ids in result["prompt_to_obj_ids"].items() for i in obj_ids}
        prompts = np.array([prompt_of[int(i)] for i in ids], dtype=object)
        labels = np.array([self.labels.get(p, p) for p in prompts], dtype=object)
        keep = self._cross_prompt_keep(ids, boxes, scores, prompts, out.obj_id_to_mask)
        keep &= scores >= self.confidence_threshold
        kept_ids = ids[keep] if to_global is None else to_global(ids[keep])
        det = Detections.for_frame(item.index, boxes[keep], scores[keep], kept_ids).with_labels(labels[keep])
        if self.masks:
            det.data["mask"] = result["masks"].cpu().numpy()[keep]
        return det

    def _cross_prompt_keep(self, ids, boxes, scores, prompts, low_res: dict) -> np.ndarray:
        """Keep one box where one object was found by two prompts: of two boxes from different prompts whose
        masks overlap by at least `cross_prompt_iou` (IoU of SAM 3's low-resolution masks), the one with the
        lower confidence is dropped. SAM 3 suppresses duplicates only within a prompt; prompts are compared,
        not labels, so "basketball player" and "person" (both `player`) give one box per player too."""
        keep = np.ones(len(ids), bool)
        if len(ids) < 2 or len(set(prompts.tolist())) < 2:
            return keep
        # Boxes first: only pairs whose boxes overlap at all need a mask comparison.
        candidates = (box_iou(boxes, boxes) > 0) & (prompts[:, None] != prompts[None, :])
        for a, b in zip(*np.nonzero(np.triu(candidates, 1))):
            if keep[a] and keep[b] and _mask_iou(low_res[int(ids[a])], low_res[int(ids[b])]) >= self.cross_prompt_iou:
                loser = b if (scores[a], -ids[a]) >= (scores[b], -ids[b]) else a
                keep[loser] = False
        return keep


def _masks_unchanged(pred_masks, *_, **__):
    """Stand-in for the processor's mask non-overlap step when only boxes are kept."""
    return pred_masks


def _mask_iou(a, b) -> float:
    """IoU of two mask-logit tensors (foreground where > 0)."""
    a, b = a > 0, b > 0
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0
