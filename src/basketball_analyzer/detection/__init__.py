"""Detection backends behind one interface; `create_detector` picks one by name."""

from .base import DEFAULT_PROMPT, DetectionParams, Detector
from .factory import DetectorCache, available_detectors, create_detector, resolve_detector_name

__all__ = ["DEFAULT_PROMPT", "DetectionParams", "Detector", "DetectorCache", "available_detectors", "create_detector",
           "resolve_detector_name"]
