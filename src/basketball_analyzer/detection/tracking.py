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
        """Detect in each frame and link boxes into tracks with a fresh ByteTrack per call.

        ByteTrack names a track on its second frame and returns -1 on its first, so each frame is held back
        one frame: a box that started a track is given the id its track gets on the next frame. Without
        that, a track's first box is lost, and frame 0 of every video (and a segment's first) had none.
        """
        import supervision as sv
        from trackers import ByteTrackTracker

        tracker = ByteTrackTracker(
            frame_rate=fps, track_activation_threshold=self.confidence_threshold,
            high_conf_det_threshold=self.confidence_threshold, minimum_consecutive_frames=1,
        )
        held: _Held | None = None
        for frame in frames:
            xyxy, conf = self.detect(frame.image)
            sv_det = sv.Detections(xyxy=xyxy.reshape(-1, 4), confidence=conf, class_id=np.zeros(len(xyxy), int))
            before = {id(t) for t in tracker.tracks}
            tracked = tracker.update(sv_det)
            if held is not None:
                yield held.resolved()
            born = [t for t in tracker.tracks if id(t) not in before]
            held = _Held(Detections.from_supervision(tracked, frame.index), born)
        if held is not None:
            yield held.resolved()


class _Held:
    """One frame's tracked boxes waiting a frame for the ids of the tracks its unnamed boxes started."""

    def __init__(self, det: Detections, born: list):
        self.det = det
        # Each new tracklet starts at its box exactly: pair them by that box.
        self.born = [(t, np.asarray(t.get_state_bbox(), np.float32).reshape(4)) for t in born]

    def resolved(self) -> Detections:
        """The frame's boxes with ids: confirmed ones as given, a track's first box with its track's id now;
        boxes that started no track, or a track that was not confirmed, are left out (noise)."""
        det = self.det
        ids = det.tracker_id.copy()
        for row in np.flatnonzero(ids < 0):
            for tracklet, box in self.born:
                if tracklet.tracker_id >= 0 and np.allclose(box, det.xyxy[row], atol=1e-3):
                    ids[row] = tracklet.tracker_id
                    break
        det.tracker_id[:] = ids
        return det[det.tracker_id >= 0]
