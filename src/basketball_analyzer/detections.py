"""`Detections`: the one value object for tracked player boxes, shared by every part of the product.

Parallel numpy arrays, one row per box: the frame it belongs to, the box in pixels (x1, y1, x2, y2), the
detector's confidence, the track id (-1 when untracked) and optionally the label of the text prompt that
found it (`data["label"]`; boxes without one are players). One frame's boxes and a whole video's boxes are
the same type; `Detections.merge` joins them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

DEFAULT_LABEL = "player"
"""The label of a box whose detector does not say what it found (HOG, the CPU detectors, old results)."""
LABEL_KEY = "label"
"""`Detections.data` key of the per-box label (a string array)."""
MAX_LABEL_LENGTH = 64
"""Longest label stored (the database column is this wide)."""
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
"""The range of stored integers (frame numbers, track ids): the results files' int32 columns and the
database's INTEGER columns alike."""


def fits_int32(value) -> bool:
    """True when `value` (an int or a numpy array of them) fits a stored integer column."""
    if isinstance(value, np.ndarray):
        return not len(value) or (int(value.min()) >= INT32_MIN and int(value.max()) <= INT32_MAX)
    return isinstance(value, int) and INT32_MIN <= value <= INT32_MAX


def check_labels(labels: np.ndarray) -> np.ndarray:
    """The distinct labels of a label column, after checking each is a 1..64-character string."""
    # A set, not np.unique: hashing a few repeated strings is ~10x faster than sorting them.
    distinct = set(labels.tolist())
    for label in distinct:
        if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL_LENGTH:
            raise ValueError(f"label {str(label)[:80]!r} is not a string of 1..{MAX_LABEL_LENGTH} characters")
    return np.array(sorted(distinct), dtype=object)


@dataclass
class Detections:
    """Tracked boxes as parallel arrays; filter with `detections[detections.confidence > 0.5]`."""

    xyxy: np.ndarray
    confidence: np.ndarray
    tracker_id: np.ndarray
    frame_number: np.ndarray
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4) if np.size(self.xyxy) == 0 else \
            np.asarray(self.xyxy, dtype=np.float32)
        n = len(self.xyxy)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        self.confidence = _column("confidence", self.confidence, n, np.float32)
        self.tracker_id = _column("tracker_id", self.tracker_id, n, np.int64)
        self.frame_number = _column("frame_number", self.frame_number, n, np.int64)
        for key, value in list(self.data.items()):
            value = np.asarray(value)
            if len(value) != n:
                raise ValueError(f"data[{key!r}] must have {n} rows, got {len(value)}")
            self.data[key] = value

    # -- constructors -------------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> "Detections":
        """No boxes."""
        return cls(
            xyxy=np.empty((0, 4), np.float32),
            confidence=np.empty(0, np.float32),
            tracker_id=np.empty(0, np.int64),
            frame_number=np.empty(0, np.int64),
        )

    @classmethod
    def for_frame(
        cls, frame_number: int, xyxy: Any, confidence: Any, tracker_id: Any | None = None
    ) -> "Detections":
        """Boxes of one frame; untracked boxes get tracker_id -1."""
        xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        tid = np.full(n, -1, np.int64) if tracker_id is None else np.asarray(tracker_id, np.int64)
        return cls(xyxy, np.asarray(confidence, np.float32).reshape(n), tid, np.full(n, frame_number, np.int64))

    @classmethod
    def from_supervision(cls, sv_detections: Any, frame_number: int) -> "Detections":
        """Adapt a `supervision.Detections` (duck-typed: xyxy, confidence, tracker_id)."""
        n = len(sv_detections.xyxy)
        conf = sv_detections.confidence if sv_detections.confidence is not None else np.ones(n, np.float32)
        tid = sv_detections.tracker_id if sv_detections.tracker_id is not None else np.full(n, -1)
        return cls.for_frame(frame_number, sv_detections.xyxy, conf, tid)

    @classmethod
    def from_xywh(
        cls, frame_number: Any, tracker_id: Any, x: Any, y: Any, width: Any, height: Any, confidence: Any
    ) -> "Detections":
        """Build from top-left/size columns, the layout of the database and the results files."""
        x = np.asarray(x, np.float32)
        y = np.asarray(y, np.float32)
        xyxy = np.stack([x, y, x + np.asarray(width, np.float32), y + np.asarray(height, np.float32)], axis=1)
        return cls(xyxy, confidence, tracker_id, frame_number)

    @classmethod
    def merge(cls, parts: Iterable["Detections"]) -> "Detections":
        """Concatenate several Detections (e.g. many frames) into one."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set(parts[0].data)
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
            frame_number=np.concatenate([p.frame_number for p in parts]),
            data=_merged_data(parts, keys),
        )

    # -- views --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> "Detections":
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            self.tracker_id[index],
            self.frame_number[index],
            {k: v[index] for k, v in self.data.items()},
        )

    def __iter__(self):
        raise TypeError("iterate over columns (xyxy, confidence, ...) or use .rows()")

    @property
    def x(self) -> np.ndarray:
        """Left edge in pixels."""
        return self.xyxy[:, 0]

    @property
    def y(self) -> np.ndarray:
        """Top edge in pixels."""
        return self.xyxy[:, 1]

    @property
    def width(self) -> np.ndarray:
        """Box width in pixels."""
        return self.xyxy[:, 2] - self.xyxy[:, 0]

    @property
    def height(self) -> np.ndarray:
        """Box height in pixels."""
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    @property
    def labels(self) -> np.ndarray:
        """Per-box label (object array of str): `data["label"]`, or "player" for every box when unset."""
        if LABEL_KEY in self.data:
            return self.data[LABEL_KEY]
        return np.full(len(self), DEFAULT_LABEL, dtype=object)

    def with_labels(self, labels: Any) -> "Detections":
        """The same boxes labelled (one label for all, or one per box)."""
        n = len(self)
        values = np.full(n, labels, dtype=object) if isinstance(labels, str) else np.asarray(labels, dtype=object)
        return Detections(self.xyxy, self.confidence, self.tracker_id, self.frame_number,
                          {**self.data, LABEL_KEY: values})

    def track_ids(self) -> set[int]:
        """Distinct track ids, untracked (-1) excluded."""
        return {int(t) for t in np.unique(self.tracker_id) if t >= 0}

    def columns(self) -> dict[str, np.ndarray]:
        """The storage layout: frame_number, tracking_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence_score."""
        return {
            "frame_number": self.frame_number,
            "tracking_id": self.tracker_id,
            "bbox_x": self.x.astype(np.float32),
            "bbox_y": self.y.astype(np.float32),
            "bbox_width": self.width.astype(np.float32),
            "bbox_height": self.height.astype(np.float32),
            "confidence_score": self.confidence,
        }

    def rows(self) -> list[tuple]:
        """Python tuples in `columns()` order, for DB drivers and CSV writers."""
        cols = self.columns()
        return list(zip(*(c.tolist() for c in cols.values())))

    def to_supervision(self):
        """Convert to `supervision.Detections` for annotators."""
        import supervision as sv

        return sv.Detections(
            xyxy=self.xyxy.astype(np.float32),
            confidence=self.confidence,
            tracker_id=self.tracker_id.astype(int),
            class_id=np.zeros(len(self), int),
        )


def _merged_data(parts: list["Detections"], keys: set[str]) -> dict[str, np.ndarray]:
    """Data columns every part has; labels survive a merge with unlabelled parts (those are players)."""
    data = {k: np.concatenate([p.data[k] for p in parts]) for k in keys if all(k in p.data for p in parts)}
    if any(LABEL_KEY in p.data for p in parts):
        data[LABEL_KEY] = np.concatenate([p.labels.astype(object) for p in parts])
    return data


def _column(name: str, value: Any, n: int, dtype) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"{name} must have {n} rows (one per box), got {len(arr)}")
    return arr
