"""Database access: engine and sessions, the tables, and bulk detection storage."""

from .engine import get_engine, session_factory, transaction
from .models import CloudImport, DetectionJob, JobStatus, PlayerDetection, Video

__all__ = ["CloudImport", "DetectionJob", "JobStatus", "PlayerDetection", "Video", "get_engine",
           "session_factory", "transaction"]
