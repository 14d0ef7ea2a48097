"""Log lines: one line per job event in text and JSON, secrets never printed, worker events shown by default."""

from __future__ import annotations

import json
import logging

import pytest

from basketball_analyzer.logs import add_secret, configure_logging, log_event, redact

SECRET = "Zx9/secret+Value=="


@pytest.fixture
def emit(capsys, monkeypatch):
    """Configure logging in a format, log through a worker logger, return the stderr lines."""
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", SECRET)

    def run(fmt: str, action) -> list[str]:
        configure_logging(logging.WARNING, fmt)
        try:
            action(logging.getLogger("basketball_analyzer.worker.cloud"))
        finally:
            configure_logging(logging.WARNING, "text")
        return capsys.readouterr().err.splitlines()

    return run


def test_event_is_one_text_line_with_fields(emit):
    lines = emit("text", lambda log: log_event(log, "job.completed", job_id="j-1", video="a clip.mp4",
                                               fps=12.3456, frames=40, error=None))
    assert len(lines) == 1
    assert lines[0].endswith('job.completed job_id=j-1 video="a clip.mp4" fps=12.35 frames=40')
    assert " INFO basketball_analyzer.worker.cloud: " in lines[0]


def test_event_in_json_has_fields_as_keys(emit):
    lines = emit("json", lambda log: log_event(log, "job.progress", job_id="j-1", frames_done=10,
                                               frames_total=40, fps=3.5))
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["event"] == "job.progress"
    assert (data["job_id"], data["frames_done"], data["frames_total"], data["fps"]) == ("j-1", 10, 40, 3.5)
    assert data["level"] == "info" and data["ts"].endswith("Z")


def test_multiline_error_stays_on_one_line(emit):
    lines = emit("text", lambda log: log_event(log, "job.failed", logging.WARNING, job_id="j-2",
                                               error="first line\nsecond line"))
    assert len(lines) == 1 and "second line" in lines[0]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_printed(emit, fmt):
    def action(log):
        log_event(log, "job.failed", logging.WARNING, job_id="j-3", error=f"denied for {SECRET}",
                  url="https://host/k?X-Amz-Signature=abcdef0123&x=1")
        log.warning("plain message with %s and postgresql://bob:hunter22@db/x", SECRET)
        try:
            raise RuntimeError(f"boom {SECRET}")
        except RuntimeError:
            log.exception("crashed")

    out = "\n".join(emit(fmt, action))
    assert SECRET not in out and json.dumps(SECRET)[1:-1] not in out
    assert "hunter22" not in out and "abcdef0123" not in out
    assert "***" in out and "boom" in out


def test_added_secret_is_masked():
    add_secret("from-dotenv-1234")
    assert redact("key=from-dotenv-1234 ok") == "key=*** ok"


def test_other_loggers_stay_quiet_at_default_level(emit):
    lines = emit("text", lambda log: logging.getLogger("basketball_analyzer.db").info("not shown"))
    assert lines == []


def test_worker_command_log_format_json_makes_every_line_json(tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    env.pop("LOG_FORMAT", None)
    out = subprocess.run([sys.executable, "-m", "basketball_analyzer", "worker", "--once", "--log-format", "json",
                          "--worker-id", "w1"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stderr.splitlines()]
    assert [(e["event"], e["worker_id"]) for e in events] == [("worker.started", "w1"), ("worker.stopped", "w1")]
    assert events[-1]["jobs"] == 0


def test_secrets_from_a_dotenv_file_are_masked_too(tmp_path, monkeypatch):
    import logging

    from basketball_analyzer.config import load_settings
    from basketball_analyzer.logs import RedactingFilter

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("R2_SECRET_ACCESS_KEY=dotenv-only-secret-123\n"
                                   "DATABASE_URL=postgresql://u:db-pass-456@localhost/x\n")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.r2_secret_access_key.get_secret_value() == "dotenv-only-secret-123"
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "key %s and %s", ("dotenv-only-secret-123",
                               "db-pass-456"), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "key *** and ***"


@pytest.mark.parametrize("text, expected", [
    ("http://admin:hunter2@127.0.0.1:8333/b", "http://admin:***@127.0.0.1:8333/b"),
    ("endpoint https://u:p@ss@word@host/x fails", "endpoint https://u:***@host/x fails"),  # '@' inside
    ("https://:only-a-password@host", "https://:***@host"),
    ("https://ghp_tokenvalue1234@host/repo", "https://***@host/repo"),
    ("https://host/x?password=abc123&y=1", "https://host/x?password=***&y=1"),
    ("https://host:8333/bucket/key stays", "https://host:8333/bucket/key stays"),
])
def test_credentials_inside_urls_are_masked(text, expected):
    assert redact(text, []) == expected


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_endpoint_password_never_reaches_a_log_line(emit, fmt):
    lines = emit(fmt, lambda log: log.warning("cannot reach http://key:s3cr3t-pw@host:9000/bucket"))
    assert "s3cr3t-pw" not in "\n".join(lines) and "key:***@host" in "\n".join(lines)


def test_printable_escapes_control_characters_and_cuts():
    from basketball_analyzer.logs import printable

    assert printable("ok [/] \x1b[2Jx\ny\x9b\x7f") == "ok [/] \\x1b[2Jx\\x0ay\\x9b\\x7f"
    assert printable("abcdef", 4) == "abc…"
