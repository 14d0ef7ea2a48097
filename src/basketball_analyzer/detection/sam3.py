"""GPU backend: Meta's SAM 3 (transformers `Sam3VideoModel`) prompted with text, in windows of K frames.

transformers' SAM 3 session keeps per-frame state for every object it tracks, so memory grows with video
length. We run each window of K frames in a fresh session, drop each frame's pixels once it is processed,
and start the next window O frames early: the O shared frames let `IdStitcher` carry track ids over the
boundary (and give the new session its hot-start). GPU and host memory then stay flat over a whole game.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

import numpy as np

from ..config import Settings
from ..detections import Detections
from ..exceptions import ConfigError, DetectorError
from ..prefetch import Prefetcher
from ..video import Frame
from .base import DEFAULT_PROMPT, Detector
from .stitching import IdStitcher

log = logging.getLogger(__name__)

_DTYPES = ("auto", "bfloat16", "float16", "float32")


def resolve_device(settings: Settings) -> tuple[str, str]:
    """(device, dtype) from SAM3_DEVICE / SAM3_DTYPE: `auto` is CUDA in bfloat16 when present, else CPU float32."""
    device = (settings.sam3_device or "auto").strip().lower()
    dtype = (settings.sam3_dtype or "auto").strip().lower()
    if dtype not in _DTYPES:
        raise ConfigError(f"invalid SAM3_DTYPE {dtype!r}: choose one of {', '.join(_DTYPES)}")
    if device == "auto":
        try:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            device = "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, dtype


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

    from ..model_store import find_model

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

    from ..model_store import HOW_TO_GET

    kwargs = {"local_files_only": True} if local else {}
    try:
        processor = Sam3VideoProcessor.from_pretrained(source, **kwargs)
        model = Sam3VideoModel.from_pretrained(source, dtype=getattr(torch, dtype), **kwargs)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise DetectorError(f"cannot load SAM 3 from {source}: {first}; {HOW_TO_GET}") from None
    return model.to(device).eval(), processor


@dataclass(frozen=True)
class _Input:
    """One preprocessed frame: its index, the model input on the device, and the original (height, width)."""

    index: int
    pixels: Any
    size: tuple[int, int]


class Sam3Detector(Detector):
    """SAM 3 video detection and tracking with text prompts, windowed so memory stays flat on long videos."""

    name = "sam3"

    def __init__(self, model, processor, prompts: Iterable[str] = (DEFAULT_PROMPT,),
                 confidence_threshold: float = 0.5, device: str = "cpu", dtype: str = "float32",
                 window_frames: int = 300, window_overlap: int = 16, masks: bool = False,
                 stitch_iou: float = 0.5, source: str = "", prefetch: int = 4):
        self.prompts = tuple(p.strip() for p in prompts if p and p.strip()) or (DEFAULT_PROMPT,)
        if window_frames < 2:
            raise ConfigError(f"SAM3_WINDOW_FRAMES must be at least 2, got {window_frames}")
        if not 1 <= window_overlap < window_frames:
            raise ConfigError(f"SAM3_WINDOW_OVERLAP must be between 1 and SAM3_WINDOW_FRAMES - 1 "
                              f"({window_frames - 1}), got {window_overlap}")
        self.model, self.processor = model, processor
        self.confidence_threshold = confidence_threshold
        self.device, self.dtype = device, dtype
        self.window_frames, self.window_overlap = window_frames, window_overlap
        self.masks, self.stitch_iou, self.source, self.prefetch = masks, stitch_iou, source, prefetch

    @classmethod
    def from_settings(cls, settings: Settings, prompts: Iterable[str] = (DEFAULT_PROMPT,),
                      confidence_threshold: float = 0.5) -> Sam3Detector:
        """Find the model (local first), load it on the configured device and dtype, and log from where."""
        from ..model_store import find_model

        location = find_model(settings).require()
        device, dtype = resolve_device(settings)
        log.info("loading SAM 3 from %s (%s) on %s in %s", location.source, location.origin, device, dtype)
        model, processor = load_sam3(location.source, location.local, device, dtype)
        return cls(model, processor, prompts=prompts, confidence_threshold=confidence_threshold, device=device,
                   dtype=dtype, window_frames=settings.sam3_window_frames,
                   window_overlap=settings.sam3_window_overlap, masks=settings.sam3_masks,
                   source=location.source)

    def describe(self) -> str:
        """Which model, where, and how the video is cut into windows."""
        return (f"sam3 {self.source or '(in-memory model)'} on {self.device} {self.dtype}, prompts "
                f"{list(self.prompts)}, windows of {self.window_frames} frames overlapping by {self.window_overlap}")

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
        """Yield each frame's tracked boxes in input order, with ids stable across windows."""
        if self.model is None:
            raise DetectorError("this SAM 3 detector was closed; create a new one")
        overlap = self.window_overlap
        stitcher = IdStitcher(self.stitch_iou)
        prefetch = Prefetcher(frames, self._prepare, self.prefetch, name="sam3-prefetch")
        inputs = iter(prefetch)
        replay: list[_Input] = []
        tail: deque[Detections] = deque(maxlen=overlap)  # last emitted frames, global ids
        try:
            while True:
                next_replay: deque[_Input] = deque(maxlen=overlap)
                shared: list[Detections] = []
                fresh = 0
                for det, replayed in self._window(replay, inputs, next_replay):
                    if replayed:
                        shared.append(det)
                        continue
                    if fresh == 0:
                        carried = stitcher.start_window(Detections.merge(tail), Detections.merge(shared))
                        if replay:
                            log.debug("window at frame %d: carried ids %s", det.frame_number[0] if len(det)
                                      else -1, carried)
                    det.tracker_id = stitcher.to_global(det.tracker_id)
                    tail.append(det)
                    fresh += 1
                    yield det
                if fresh == 0:
                    return
                replay = list(next_replay)
        finally:
            prefetch.close()

    def _prepare(self, frame: Frame) -> _Input:
        import torch

        rgb = np.ascontiguousarray(frame.image[..., ::-1])
        with torch.inference_mode():
            batch = self.processor(images=rgb, device=self.device, return_tensors="pt")
            pixels = batch["pixel_values"][0].to(self.device, dtype=getattr(torch, self.dtype), non_blocking=True)
        return _Input(frame.index, pixels, (int(frame.image.shape[0]), int(frame.image.shape[1])))

    def _new_session(self, size: tuple[int, int]):
        import torch

        session = self.processor.init_video_session(inference_device=self.device,
                                                    dtype=getattr(torch, self.dtype))
        session.video_height, session.video_width = size
        self.processor.add_text_prompt(session, list(self.prompts))
        return session

    def _window(self, replay: list[_Input], inputs: Iterator[_Input], next_replay: deque
                ) -> Iterator[tuple[Detections, bool]]:
        """Track one window: the replayed overlap frames, then up to K - len(replay) new frames.

        Yields (detections with this window's ids, replayed?) per frame, in order, after SAM 3's hot-start
        delay, as transformers' own `propagate_in_video_iterator` does.
        """
        import torch

        first = next(inputs, None)
        if first is None:
            return
        session = self._new_session(first.size)
        fresh = chain([first], islice(inputs, self.window_frames - len(replay) - 1))
        steps = chain(((item, True) for item in replay), ((item, False) for item in fresh))
        delay = max(1, int(getattr(self.model, "hotstart_delay", 0) or 0))
        pending: deque = deque()
        for local, (item, replayed) in enumerate(steps):
            with torch.inference_mode():
                session.add_new_frame(item.pixels, local)
                out = self.model(inference_session=session, frame_idx=local)
                # The session keeps every frame's pixels but only reads the current one; keep the key, since
                # the tracker reads len(processed_frames) as the video length.
                session.processed_frames[local] = None
            session.hotstart_removed_obj_ids.update(out.removed_obj_ids or ())
            next_replay.append(item)
            pending.append((item, replayed, out))
            if len(pending) >= delay:
                yield self._detections(session, *pending.popleft())
        while pending:
            yield self._detections(session, *pending.popleft())

    def _detections(self, session, item: _Input, replayed: bool, out) -> tuple[Detections, bool]:
        import torch

        with torch.inference_mode():
            result = self.processor.postprocess_outputs(session, out)
        ids = result["object_ids"].cpu().numpy()
        scores = result["scores"].float().cpu().numpy().reshape(-1)
        boxes = result["boxes"].float().cpu().numpy().reshape(-1, 4)
        keep = scores >= self.confidence_threshold
        det = Detections.for_frame(item.index, boxes[keep], scores[keep], ids[keep])
        if self.masks:
            det = Detections(det.xyxy, det.confidence, det.tracker_id, det.frame_number,
                             {"mask": result["masks"].cpu().numpy()[keep]})
        return det, replayed
