"""Logging set-up: plain text or one JSON object per line, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

_SECRET_ENV = ("R2_SECRET_ACCESS_KEY", "R2_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
               "AWS_SESSION_TOKEN")
_SIGNATURE = re.compile(r"(X-Amz-Signature=|X-Amz-Credential=|Signature=|Credential=)[^&\s,]+", re.I)


def secrets_in_env() -> list[str]:
    """The secret values currently set (long enough to be worth masking)."""
    return [v for k in _SECRET_ENV if (v := os.environ.get(k)) and len(v) >= 4]


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with known secret values and request signatures replaced by ***."""
    for value in secrets if secrets is not None else secrets_in_env():
        text = text.replace(value, "***")
    return _SIGNATURE.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """Masks secrets in the rendered message of every record that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, and any `extra={...}` fields given as `event`."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            data.update(event)
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, default=str)


def configure_logging(level: int = logging.INFO, fmt: str = "text") -> None:
    """Install one stderr handler on the root logger (replacing ours from before)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_bball", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._bball = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "alembic", "PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
