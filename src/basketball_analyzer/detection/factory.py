"""Choosing and building a detector backend by name."""

from __future__ import annotations

import logging
from dataclasses import replace

from ..config import DetectorName, Settings, get_settings
from ..exceptions import DetectorError
from .base import DetectionParams, Detector

log = logging.getLogger(__name__)

_NAMES = tuple(name.value for name in DetectorName)
CPU_DEFAULT = DetectorName.ssd.value

DEFAULT_CONFIDENCE = {"ssd": 0.3, "hog": 0.5, "sam3": 0.5}
"""Each detector's confidence threshold when a run does not set one: their scores do not mean the same.
SSD at 0.3 finds 0.68 of the people in real footage at the precision 0.5 gives (0.55 found), and on the
synthetic court game MOTA 51 against 36 (docs/benchmarks.md); HOG never scores below 0.5."""


def confidence_for(name: str, params: DetectionParams) -> float:
    """The threshold a run of detector `name` uses: the run's own, or the detector's default."""
    if params.confidence_threshold is not None:
        return params.confidence_threshold
    return DEFAULT_CONFIDENCE[name]


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
        return CPU_DEFAULT, "SAM 3 backend not installed (install the 'sam3' extra); using the CPU detector"
    ok, why = sam3_availability(settings)
    return ("sam3", why) if ok else (CPU_DEFAULT, why + "; using the CPU detector")


def create_detector(params: DetectionParams, settings: Settings | None = None) -> Detector:
    """Build the backend `params.detector` names (resolving `auto`) and log which and why."""
    settings = settings or get_settings()
    name, why = resolve_detector_name(params.detector, settings)
    confidence = confidence_for(name, params)
    log.info("detector: %s (%s), confidence %g", name, why, confidence)
    if name == "ssd":
        from .ssd import SsdDetector

        return SsdDetector(confidence_threshold=confidence, tiles=settings.ssd_tiles)
    if name == "hog":
        from .hog import HogDetector

        return HogDetector(confidence_threshold=confidence)
    from .sam3 import Sam3Detector

    return Sam3Detector.from_settings(settings, prompts=params.prompts, confidence_threshold=confidence)


class DetectorCache:
    """Keeps the detector of the last job, so a worker loads a model once rather than once per job.

    Detectors start fresh tracking state on every `track` call, so reuse across videos is safe. A detector
    with a `configure(prompts, confidence_threshold)` method (SAM 3) keeps its model when only those change.
    """

    def __init__(self, settings: Settings | None = None):
        self.settings = settings
        self._key: tuple | None = None
        self._detector: Detector | None = None

    def get(self, params: DetectionParams) -> Detector:
        """A detector for `params`, reused when the backend, prompts and threshold are unchanged."""
        settings = self.settings or get_settings()
        name, _ = resolve_detector_name(params.detector, settings)
        key = (name, params.prompts, confidence_for(name, params))
        if self._detector is not None and key != self._key and key[0] == self._key[0] \
                and hasattr(self._detector, "configure"):
            self._detector.configure(params.prompts, key[2])
            self._key = key
        if self._detector is None or key != self._key:
            self.close()
            self._detector = create_detector(replace(params, detector=name), settings)
            self._key = key
        return self._detector

    def preload(self) -> None:
        """Build the configured backend now when DETECTOR names one, so a worker without the GPU or the
        model it was told to use stops at start with one clear line instead of failing every job."""
        settings = self.settings or get_settings()
        if settings.detector.value != "auto":
            self.get(DetectionParams(detector=settings.detector.value))

    def close(self) -> None:
        """Release the cached detector."""
        if self._detector is not None:
            self._detector.close()
        self._detector, self._key = None, None
