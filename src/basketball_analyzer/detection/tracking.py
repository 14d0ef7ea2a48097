"""Per-image detectors made into trackers: boxes from each frame linked into tracks by ByteTrack."""

from __future__ import annotations

from abc import abstractmethod
from typing import Iterable, Iterator

import numpy as np

from ..detections import Detections
from ..video import Frame
from .base import Detector


class FrameDetector(Detector):
    """A backend that finds people in one image at a time; `track` adds ByteTrack ids (Roboflow's `trackers`).

    Subclasses implement `detect` and set `confidence_threshold`: only boxes at or above it are returned by
    `detect`, start tracks and are stored.
    """

    confidence_threshold: float = 0.5

    @abstractmethod
    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Untracked person boxes (xyxy float32, in the image's pixels) and confidences in [0, 1]."""

    def track(self, frames: Iterable[Frame], fps: float = 30.0) -> Iterator[Detections]:
        """Detect in each frame and link boxes into tracks with a fresh ByteTrack per call."""
        import supervision as sv
        from trackers import ByteTrackTracker

        tracker = ByteTrackTracker(
            frame_rate=fps, track_activation_threshold=self.confidence_threshold,
            high_conf_det_threshold=self.confidence_threshold, minimum_consecutive_frames=1,
        )
        for frame in frames:
            xyxy, conf = self.detect(frame.image)
            sv_det = sv.Detections(xyxy=xyxy.reshape(-1, 4), confidence=conf, class_id=np.zeros(len(xyxy), int))
            tracked = tracker.update(sv_det)
            det = Detections.from_supervision(tracked, frame.index)
            # Boxes still waiting for confirmation carry -1; the product stores tracked players only.
            yield det[det.tracker_id >= 0]
