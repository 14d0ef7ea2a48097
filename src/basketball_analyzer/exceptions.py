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


class StorageError(BballError):
    """The S3/R2 bucket cannot be reached, refused our credentials, or holds something unexpected."""


class ManifestError(BballError):
    """A job manifest is malformed, of an unknown schema version, or fails validation."""


class ResultsError(BballError):
    """A results file is corrupt, fails its checksum, or holds invalid rows."""
