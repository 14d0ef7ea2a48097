"""Logging set-up: plain text or one JSON object per line, with secrets redacted from every record.

Workers report each job event with `log_event(log, "job.claimed", job_id=..., video_id=...)`: one line
per event, `key=value` pairs in text, top-level keys in JSON, so log collectors can filter on them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import time
from typing import Any

_SECRET_ENV = ("R2_SECRET_ACCESS_KEY", "R2_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
               "AWS_SESSION_TOKEN")
_SIGNATURE = re.compile(r"(X-Amz-Signature=|X-Amz-Credential=|Signature=|Credential=)[^&\s,\"']+", re.IGNORECASE)
# The credentials in a URL: scheme://user:password@host/… or scheme://token@host/…. Greedy up to the last
# "@" before the path, so a password that itself holds an "@" is masked whole.
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)([^/\s?#]*)@", re.IGNORECASE)
# Credentials passed as query parameters (?password=…, &token=…).
_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pwd|secret|token|access_?key|secret_?key|api_?key)=)"
                           r"[^&\s#\"']+", re.IGNORECASE)
# C0 and C1 control characters (ESC starts terminal escape sequences) and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_known_secrets: set[str] = set()

WORKER_LOGGER = "basketball_analyzer.worker"
"""Loggers under this name log at INFO or below whatever the root level (see `configure_logging`)."""

JOB_EVENTS = ("job.claimed", "job.progress", "job.completed", "job.failed", "job.released")
"""The events a worker logs, one line each; `log_event` accepts others too."""


def add_secret(value: str | None) -> None:
    """Mask `value` in every later log line (for secrets read from `.env` rather than the environment)."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def secrets_in_env() -> list[str]:
    """The secret values currently known: set in the environment or given to `add_secret`."""
    found = {v for k in _SECRET_ENV if (v := os.environ.get(k)) and len(v) >= 4}
    # Longest first, so a secret that contains another is masked whole.
    return sorted(found | _known_secrets, key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with known secret values, URL credentials and request signatures replaced by ***."""
    for value in secrets if secrets is not None else secrets_in_env():
        text = text.replace(value, "***")
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    text = _QUERY_SECRET.sub(r"\1***", text)
    return _SIGNATURE.sub(r"\1***", text)


def _mask_userinfo(match: re.Match) -> str:
    # Keep the user name (it helps find the wrong setting); a lone token before "@" is masked whole.
    user, sep, _ = match.group(2).partition(":")
    return f"{match.group(1)}{user}:***@" if sep else f"{match.group(1)}***@"


def printable(text: str, limit: int | None = None) -> str:
    """`text` from a bucket or a file made safe to print: control characters (terminal escape sequences,
    newlines) shown as \\xNN escapes, optionally cut to `limit` characters. Rich markup is the printer's
    concern (`rich.markup.escape`)."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _redact_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v, secrets) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Masks secrets in the rendered message of every record that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class TextFormatter(logging.Formatter):
    """`time level logger: message`, with tracebacks redacted too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, and any `extra={"event": {...}}` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "event", None)
        if isinstance(fields, dict):
            data.update({k: v for k, v in fields.items() if k not in ("ts", "level", "logger", "message")})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        # Redact each value rather than the dumped line: JSON escaping could hide a secret from the match.
        secrets = secrets_in_env()
        return json.dumps(_redact_value(data, secrets), default=str)


def _text_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else str(value)
    text = str(value)
    # Quote values a reader could not split on spaces (a file name with spaces, an error message).
    return json.dumps(text) if not text or any(c.isspace() or c in "\"=" for c in text) else text


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event as one line: `event k=v ...` in text, `{"event": ..., k: v}` in JSON.

    Fields that are None are left out; floats print with two decimals in text (e.g. `fps=12.34`).
    """
    fields = {k: v for k, v in fields.items() if v is not None}
    text = " ".join([event, *(f"{k}={_text_value(v)}" for k, v in fields.items())])
    logger.log(level, "%s", text.replace("\n", " "), extra={"event": {"event": event, **fields}})


def configure_logging(level: int = logging.INFO, fmt: str = "text") -> None:
    """Install one stderr handler on the root logger (replacing ours from before)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_bball", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._bball = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # A worker is a service: its job events are its output, so they print even without -v.
    logging.getLogger(WORKER_LOGGER).setLevel(min(level, logging.INFO))
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "alembic", "PIL", "matplotlib", "httpx",
                  "huggingface_hub", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
