"""CPU backend: OpenCV's built-in HOG people detector, tracked with ByteTrack (see `tracking.FrameDetector`).

Kept by name (`--detector hog`); the SSDLite network in `ssd.py` is the CPU default, as it finds people HOG's
64 x 128 window misses (anyone under about 100 px tall) and runs faster.
"""

from __future__ import annotations

import numpy as np

from .tracking import FrameDetector


_MIN_H, _MIN_W = 160, 96


class HogDetector(FrameDetector):
    """OpenCV HOG + linear SVM person detector with ByteTrack ids. Runs anywhere, no GPU or model files."""

    name = "hog"

    def __init__(self, confidence_threshold: float = 0.5, max_width: int = 960, nms_iou: float = 0.4,
                 hit_threshold: float = 0.0, win_stride: int = 8, scale: float = 1.05):
        import cv2

        self._cv2 = cv2
        self.confidence_threshold = confidence_threshold
        self.max_width = max_width
        self.nms_iou = nms_iou
        self.hit_threshold = hit_threshold
        self.win_stride = win_stride
        self.scale = scale
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Untracked person boxes (xyxy, in the image's pixels) and confidences in [0, 1] for one image."""
        cv2 = self._cv2
        h, w = image.shape[:2]
        factor = min(1.0, self.max_width / float(w))
        # OpenCV's detectMultiScale corrupts memory on images smaller than its 64x128 window (plus
        # padding): scale tiny frames up instead.
        factor = max(factor, _MIN_H / h, _MIN_W / w)
        small = cv2.resize(image, (round(w * factor), round(h * factor))) if factor != 1.0 else image
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        rects, weights = self._hog.detectMultiScale(
            gray, hitThreshold=self.hit_threshold, winStride=(self.win_stride, self.win_stride),
            padding=(8, 8), scale=self.scale,
        )
        if len(rects) == 0:
            return np.empty((0, 4), np.float32), np.empty(0, np.float32)
        rects = np.asarray(rects, np.float32).reshape(-1, 4)
        # SVM margins to (0, 1): a margin of 0 (the decision boundary) maps to 0.5.
        conf = 1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
        keep = cv2.dnn.NMSBoxes(rects.tolist(), conf.tolist(), 0.0, self.nms_iou)
        keep = np.asarray(keep, int).reshape(-1)
        rects, conf = rects[keep], conf[keep]
        xyxy = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]])
        xyxy /= factor
        # The people model's 64x128 window has the person in its middle ~60% x 75%: trim to the body.
        cx, cy = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2
        hw, hh = (xyxy[:, 2] - xyxy[:, 0]) * 0.3, (xyxy[:, 3] - xyxy[:, 1]) * 0.375
        xyxy = np.column_stack([cx - hw, cy - hh, cx + hw, cy + hh])
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        mask = conf >= self.confidence_threshold
        return xyxy[mask].astype(np.float32), conf[mask].astype(np.float32)
