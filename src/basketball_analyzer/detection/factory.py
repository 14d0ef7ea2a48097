"""Choosing and building a detector backend by name."""

from __future__ import annotations

import logging

from ..config import Settings, get_settings
from ..exceptions import DetectorError
from .base import DetectionParams, Detector

log = logging.getLogger(__name__)

_NAMES = ("auto", "hog", "sam3")


def available_detectors() -> tuple[str, ...]:
    """Names accepted by `--detector` and DETECTOR."""
    return _NAMES


def resolve_detector_name(name: str, settings: Settings | None = None) -> tuple[str, str]:
    """Turn `auto` into a concrete backend; return (name, why)."""
    name = (name or "auto").lower()
    if name not in _NAMES:
        raise DetectorError(f"unknown detector {name!r}: choose one of {', '.join(_NAMES)}")
    if name != "auto":
        return name, f"{name} requested"
    settings = settings or get_settings()
    try:
        from .sam3 import sam3_availability
    except ImportError:
        return "hog", "SAM 3 backend not installed (install the 'sam3' extra); using the CPU detector"
    ok, why = sam3_availability(settings)
    return ("sam3", why) if ok else ("hog", why + "; using the CPU detector")


def create_detector(params: DetectionParams, settings: Settings | None = None) -> Detector:
    """Build the backend `params.detector` names (resolving `auto`) and log which and why."""
    settings = settings or get_settings()
    name, why = resolve_detector_name(params.detector, settings)
    log.info("detector: %s (%s)", name, why)
    if name == "hog":
        from .hog import HogDetector

        return HogDetector(confidence_threshold=params.confidence_threshold)
    from .sam3 import Sam3Detector

    return Sam3Detector.from_settings(settings, prompts=params.prompts,
                                      confidence_threshold=params.confidence_threshold)
