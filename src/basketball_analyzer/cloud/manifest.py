"""The cloud job manifest (`jobs/<job_id>/manifest.json`) and the job state machine.

The manifest is the one source of truth for a job. Every change is a conditional write (If-Match on the
ETag the change was computed from), so two writers never both succeed; `queue.py` does the writing.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ..exceptions import JobError, ManifestError, ManifestTooNew
from ..lifecycle import TRANSITIONS, JobStatus

SCHEMA_VERSION = 2
"""The newest manifest schema this bball reads. Version 2 adds segments; a job without segments is still
written as version 1, so workers from before segments keep running it."""
PLAIN_SCHEMA_VERSION = 1

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_JOB_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_TOKEN = re.compile(r"^[0-9a-f]{16,64}$")


CloudJobStatus = JobStatus  # one set of job states for both queues (lifecycle.py)


S = CloudJobStatus
# The state machine is lifecycle.py's (`TRANSITIONS`, one for both queues). A segmented job is pending until
# its segments settle it (`cloud.segments.settle`): it is never claimed, and settles straight from pending.
SEGMENTED_TRANSITIONS: dict[CloudJobStatus, frozenset[CloudJobStatus]] = {
    S.pending: frozenset({S.completed, S.failed}),
}


def new_job_id(now: float | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32; sorts by creation time."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def validate_job_id(job_id: Any) -> str:
    """The job id in canonical (upper-case) form, or `ManifestError` if it is not a ULID.

    Called before a job id goes into any bucket key or local path.
    """
    text = job_id.strip().upper() if isinstance(job_id, str) else ""
    if not _JOB_ID.match(text):
        shown = repr(job_id)[:40]
        raise ManifestError(f"invalid job id {shown}: expected a 26-character id "
                            "like 01JD3V6W8K2M4N5P7Q9R0S1T2V")
    return text


def new_claim_token() -> str:
    """A random claim token (64 bits, hex): never repeats, unlike attempt numbers, which `retry` resets."""
    return secrets.token_hex(8)


def utcnow_iso(now: float | None = None) -> str:
    """An ISO-8601 UTC timestamp with milliseconds."""
    dt = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str | None) -> float | None:
    """Epoch seconds from an ISO-8601 timestamp (None stays None)."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class JobManifest:
    """Everything about one cloud job: what to run, who runs it, how far it got, where the results are."""

    job_id: str
    video_id: int
    status: CloudJobStatus = CloudJobStatus.pending
    created_at: str = field(default_factory=utcnow_iso)
    parameters: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    completed_at: str | None = None
    updated_at: str | None = None
    error: str | None = None
    frames_processed: int = 0
    frames_total: int | None = None
    worker_id: str | None = None
    attempts: int = 0
    lease_expires_at: str | None = None
    results_key: str | None = None
    results_sha256: str | None = None
    results_rows: int | None = None
    video_sha256: str | None = None  # the submitted file's identity: import refuses results for another file
    video_size: int | None = None
    # A fresh random token per claim: it names the claim's results file and proves who holds the job.
    claim_token: str | None = None
    # Segments (schema 2). A segmented job names its segments' job ids and is never claimed itself; each
    # segment is a job of its own (claimed, leased and fenced as any job) that names its parent and the
    # frames it owns: {"index", "count", "start_frame", "end_frame", "overlap_frames"}.
    segment_ids: list[str] | None = None
    parent_id: str | None = None
    segment: dict[str, int] | None = None
    # Results uploaded so far in parts (schema 2), in frame order: {"key", "sha256", "rows", "start_frame",
    # "end_frame", "overlap_frames", "token"}. A takeover resumes after the last one; a completed job with
    # parts has no results_key, and import joins its parts.
    parts: list[dict[str, Any]] | None = None
    schema_version: int = PLAIN_SCHEMA_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "job_id", validate_job_id(self.job_id))
        if isinstance(self.video_id, bool) or not isinstance(self.video_id, int) or self.video_id < 1:
            raise ManifestError(f"job {self.job_id}: video_id must be a positive integer")
        if self.claim_token is not None and not _TOKEN.match(str(self.claim_token)):
            raise ManifestError(f"job {self.job_id}: claim_token must be 16 to 64 hex digits")
        try:
            object.__setattr__(self, "status", CloudJobStatus(self.status))
        except ValueError:
            raise ManifestError(f"job {self.job_id}: unknown status {str(self.status)[:30]!r}") from None
        if not isinstance(self.parameters, dict):
            raise ManifestError(f"job {self.job_id}: parameters must be an object")
        for name in ("frames_processed", "attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ManifestError(f"job {self.job_id}: {name} must be a non-negative integer")
        for name in ("frames_total", "results_rows"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ManifestError(f"job {self.job_id}: {name} must be a non-negative integer")
        self._check_segments()
        for name in ("created_at", "started_at", "completed_at", "updated_at", "lease_expires_at"):
            value = getattr(self, name)
            try:
                parse_time(value)
            except (TypeError, ValueError, AttributeError):
                raise ManifestError(f"job {self.job_id}: {name} is not an ISO-8601 time") from None

    def _check_segments(self) -> None:
        if self.segment_ids is not None:
            if not isinstance(self.segment_ids, list) or not self.segment_ids:
                raise ManifestError(f"job {self.job_id}: segment_ids must be a non-empty list")
            object.__setattr__(self, "segment_ids", [validate_job_id(i) for i in self.segment_ids])
        if self.parts is not None:
            if not isinstance(self.parts, list):
                raise ManifestError(f"job {self.job_id}: parts must be a list")
            for n, part in enumerate(self.parts, start=1):
                problem = part_problem(part)
                if problem:
                    raise ManifestError(f"job {self.job_id}: part {n} {problem}")
        if self.parent_id is not None:
            object.__setattr__(self, "parent_id", validate_job_id(self.parent_id))
            seg = self.segment
            keys = ("index", "count", "start_frame", "end_frame", "overlap_frames")
            if not isinstance(seg, dict) or any(isinstance(seg.get(k), bool) or not isinstance(seg.get(k), int)
                                                or seg[k] < 0 for k in keys) \
                    or not seg["start_frame"] < seg["end_frame"] or not seg["index"] < seg["count"]:
                raise ManifestError(f"job {self.job_id}: segment must hold non-negative integers "
                                    + ", ".join(keys) + " with start_frame < end_frame")

    @property
    def resume_from(self) -> int | None:
        """The first frame no uploaded part covers (None: no parts yet)."""
        return int(self.parts[-1]["end_frame"]) if self.parts else None

    @property
    def segmented(self) -> bool:
        """True for a job split into segments (the segments are claimed, never the job itself)."""
        return bool(self.segment_ids)

    @property
    def frame_range(self) -> tuple[int, int] | None:
        """Video frames a segment decodes: its own, plus the overlap into the previous segment."""
        if self.segment is None:
            return None
        return max(0, self.segment["start_frame"] - self.segment["overlap_frames"]), self.segment["end_frame"]

    @property
    def video_key(self) -> str | None:
        """The bucket key of the job's video, as recorded at submit time."""
        return self.parameters.get("video_key")

    @property
    def video_fps(self) -> float | None:
        """The video's frame rate as recorded at submit time, or None (older jobs, or not a sane number)."""
        value = self.parameters.get("video_fps")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1000:
            return float(value)
        return None

    def detection_params(self):
        """The run's `DetectionParams` (ManifestError when they do not validate)."""
        from ..detection import DetectionParams

        try:
            return DetectionParams.from_dict(self.parameters)
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"job {self.job_id}: invalid parameters: {exc}") from None

    def lease_expired(self, now: float) -> bool:
        """True when the job is processing and its worker's lease ran out before `now` (epoch seconds)."""
        expires = parse_time(self.lease_expires_at)
        return self.status is S.processing and (expires is None or expires <= now)

    def transition(self, status: CloudJobStatus | str, **changes: Any) -> "JobManifest":
        """A copy in `status` with `changes` applied; `JobError` if the state machine forbids the move."""
        status = CloudJobStatus(status)
        allowed = TRANSITIONS[self.status] | (SEGMENTED_TRANSITIONS.get(self.status, frozenset())
                                              if self.segmented else frozenset())
        if status not in allowed:
            raise JobError(f"job {self.job_id} is {self.status.value}; it cannot become {status.value}")
        return replace(self, status=status, **changes)

    def requeued(self) -> "JobManifest":
        """Pending again with a fresh set of attempts and nothing of the earlier run (`retry`)."""
        return self.transition(S.pending, attempts=0, error=None, worker_id=None, lease_expires_at=None,
                               started_at=None, completed_at=None, frames_processed=0, claim_token=None,
                               results_key=None, results_sha256=None, results_rows=None, parts=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (status by value)."""
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, data: Any) -> "JobManifest":
        """Parse and validate; anything malformed or of a newer schema raises `ManifestError`."""
        if not isinstance(data, dict):
            raise ManifestError("manifest is not a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ManifestError("manifest has no schema_version")
        if version > SCHEMA_VERSION:
            raise ManifestTooNew(f"manifest schema version {version} is newer than this bball supports "
                                f"({SCHEMA_VERSION}); upgrade basketball-analyzer")
        if version < 1:
            raise ManifestError(f"manifest schema version {version} is not supported")
        missing = [k for k in ("job_id", "video_id", "status") if k not in data]
        if missing:
            raise ManifestError("manifest is missing " + ", ".join(missing))
        known = {f for f in cls.__dataclass_fields__}
        # Unknown keys from a same-version writer are ignored rather than fatal.
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ManifestError(f"manifest is malformed: {exc}") from None

    def to_json(self) -> bytes:
        """Serialized manifest bytes as stored in the bucket."""
        import json

        return json.dumps(self.to_dict(), indent=1, sort_keys=True, allow_nan=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "JobManifest":
        """Inverse of `to_json`; `ManifestError` for invalid JSON."""
        import json

        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError(f"manifest is not valid JSON ({str(exc)[:60]})") from None
        return cls.from_dict(data)


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
PART_INTS = ("rows", "start_frame", "end_frame", "overlap_frames")


def part_problem(part: Any) -> str | None:
    """What is wrong with one entry of a manifest's `parts` (None: nothing), as the end of a sentence.

    The join trusts these fields for which frames a file owns, so each must be there and of its type.
    """
    if not isinstance(part, dict):
        return "is not an object"
    if not isinstance(part.get("key"), str) or not part["key"]:
        return "has no key"
    if not isinstance(part.get("sha256"), str) or not _SHA256.match(part["sha256"]):
        return "has no sha256 (64 hex digits)"
    for name in PART_INTS:
        value = part.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            return f"has no {name} (a non-negative integer)" if name not in part else \
                f"has {name} {str(value)[:20]!r}, not a non-negative integer"
    if not part["start_frame"] < part["end_frame"]:
        return f"has start_frame {part['start_frame']} not before end_frame {part['end_frame']}"
    if part.get("token") is not None and not (isinstance(part["token"], str) and _TOKEN.match(part["token"])):
        return "has a token that is not 16 to 64 hex digits"
    return None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")

