"""The detector interface every backend implements, and the parameters a detection run takes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator

from ..detections import MAX_LABEL_LENGTH, Detections
from ..video import Frame

DEFAULT_PROMPT = "basketball player"

_LABELS = {"basketball player": "player", "player": "player", "person": "player", "referee": "referee",
           "basketball": "ball", "ball": "ball"}


def parse_prompt(prompt: str) -> tuple[str, str]:
    """(text for the model, label for its boxes) of one text prompt.

    `label=text` names the label explicitly (`referee=person in a striped shirt`); otherwise "basketball
    player", "player" and "person" are `player`, "referee" is `referee`, "basketball" and "ball" are `ball`,
    and any other prompt is its own label (lower case, spaces collapsed, at most 64 characters).
    """
    label, sep, text = prompt.partition("=")
    if not sep or not label.strip() or not text.strip():
        label, text = "", prompt
    text = " ".join(text.split())
    label = " ".join(label.lower().split()) or _LABELS.get(text.lower(), text.lower())
    return text, label[:MAX_LABEL_LENGTH]


@dataclass(frozen=True)
class DetectionParams:
    """What a detection run is asked to do; stored with local jobs and in cloud job manifests."""

    sample_interval: int = 1
    confidence_threshold: float | None = None  # None: the detector's own (`factory.DEFAULT_CONFIDENCE`)
    detector: str = "auto"
    prompts: tuple[str, ...] = field(default=(DEFAULT_PROMPT,))

    def __post_init__(self) -> None:
        if int(self.sample_interval) < 1:
            raise ValueError("sample_interval must be >= 1")
        if self.confidence_threshold is not None and not 0.0 <= float(self.confidence_threshold) <= 1.0:
            raise ValueError("confidence must be between 0 and 1")
        prompts = tuple(p.strip() for p in self.prompts if p and p.strip())
        if not prompts:
            raise ValueError("at least one non-empty text prompt is needed")
        object.__setattr__(self, "prompts", prompts)
        object.__setattr__(self, "sample_interval", int(self.sample_interval))
        if self.confidence_threshold is not None:
            object.__setattr__(self, "confidence_threshold", float(self.confidence_threshold))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form. No confidence means the detector's own; the key is left out, so a worker from
        before per-detector defaults uses its 0.5 rather than failing on null."""
        d = asdict(self)
        d["prompts"] = list(self.prompts)
        if self.confidence_threshold is None:
            del d["confidence_threshold"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DetectionParams":
        """Inverse of `to_dict`; unknown keys are ignored, missing keys take defaults."""
        prompts = data.get("prompts") or ([data["text_prompt"]] if data.get("text_prompt") else [DEFAULT_PROMPT])
        if isinstance(prompts, str):
            prompts = [prompts]
        return cls(
            sample_interval=int(data.get("sample_interval", 1)),
            confidence_threshold=None if data.get("confidence_threshold") is None
            else float(data["confidence_threshold"]),
            detector=str(data.get("detector", "auto")),
            prompts=tuple(prompts),
        )


class Detector(ABC):
    """A detector-and-tracker over a stream of frames.

    `track` consumes frames in order and yields exactly one `Detections` per input frame, in the same
    order, with `frame_number` set to that frame's index. A backend may keep state across frames (a
    tracker, a video model's memory) and may read ahead before yielding (windows); callers only iterate.
    """

    name: str = "base"

    @abstractmethod
    def track(self, frames: Iterable[Frame], fps: float = 30.0) -> Iterator[Detections]:
        """Yield the tracked detections of each frame, in input order."""

    def describe(self) -> str:
        """One line saying what runs where, for logs."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook: only backends holding a model override it
        """Release models and memory. Safe to call twice."""
