"""Errors a user can cause. The CLI turns every `BballError` into one clear line and exit code 1."""


class BballError(Exception):
    """Base class: a problem the user can fix; its message says how."""


class ConfigError(BballError):
    """A setting is missing or invalid."""


class VideoError(BballError):
    """A video file is missing, unreadable, or not a video."""


class NotFound(BballError):
    """A video, job or other record with the given id does not exist."""


class DetectorError(BballError):
    """A detector cannot be created or run (unknown name, missing model, missing GPU)."""


class JobError(BballError):
    """A job cannot make the requested transition (e.g. retrying a job that has not failed)."""


class SegmentError(JobError):
    """Segment settings at submit that cannot work (zero segments, more segments than frames...)."""


class StorageError(BballError):
    """The S3/R2 bucket cannot be reached, refused our credentials, or holds something unexpected."""


class ConditionFailed(StorageError):
    """A conditional write lost: the object changed (or already existed) since it was read."""


class StorageUnavailable(StorageError):
    """The bucket did not answer (connection refused, timeout, 5xx): worth retrying later."""


class LeaseLost(JobError):
    """This worker no longer holds the job (lease taken over, job cancelled or retried, or fenced off
    after its heartbeats failed for most of the lease); whatever it produced is dropped."""


class ManifestError(BballError):
    """A job manifest is malformed, of an unknown schema version, or fails validation."""


class ManifestTooNew(ManifestError):
    """A manifest written by a newer bball (higher schema_version): left alone for workers that read it."""


class ResultsError(BballError):
    """A results file is corrupt, fails its checksum, or holds invalid rows."""


class WrongVideo(ResultsError):
    """Results (or a submitted file) belong to another video than the one they would be stored under."""


class CalibrationError(BballError):
    """Court calibration points cannot define the court (too few, collinear, outside the image, unknown)."""


class AnalyticsError(BballError):
    """Teams, stats or pictures cannot be computed for this video (no detections, unknown track)."""


class PlayersError(BballError):
    """Players cannot be joined, merged, split, set or named as asked (overlapping tracks, a bad roster)."""
