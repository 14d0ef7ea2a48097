"""`bball storage serve`: a real SeaweedFS in the foreground, reachable with the variables it writes."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest



def _serve(args: list[str], env: dict) -> tuple[subprocess.Popen, list[str]]:
    """Start `bball storage serve`, return it once it printed how to connect, and what it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "basketball_analyzer", "storage", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "Press Ctrl-C" in line:
            return proc, lines
    proc.kill()
    pytest.fail("storage serve did not start:\n" + "\n".join(lines))


def _env_file(lines: list[str]) -> Path:
    line = next(s for s in lines if s.strip().startswith("set -a;"))
    return Path(shlex.split(line.split(";")[1])[1])


def _load(env_file: Path) -> dict[str, str]:
    out = {}
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        out[key] = shlex.split(value)[0]
    return out


def _client(values: dict[str, str]):
    """A plain boto3 client from the env file's variables, as any S3 tool would use them."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=values["R2_ENDPOINT_URL"],
                        aws_access_key_id=values["R2_ACCESS_KEY_ID"],
                        aws_secret_access_key=values["R2_SECRET_ACCESS_KEY"], region_name=values["R2_REGION"],
                        config=Config(signature_version="s3v4"))


def _weed_running(marker: str) -> bool:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "weed" in cmd and marker in cmd:
                return True
    return False


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def test_serve_with_dir_keeps_credentials_and_objects_across_restarts(tmp_path):
    data = tmp_path / "s3"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc, lines = _serve(["--dir", str(data)], env)
    try:
        env_file = _env_file(lines)
        assert env_file == data / "bball-s3.env"
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        values = _load(env_file)
        assert values["R2_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        # The generated secret is in the file for the user's shells, never on the screen.
        assert values["R2_SECRET_ACCESS_KEY"] not in "\n".join(lines)
        _client(values).put_object(Bucket=values["R2_BUCKET_NAME"], Key="probe.txt", Body=b"hello")
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert not _weed_running(str(data))

    proc, lines = _serve(["--dir", str(data)], env)
    try:
        again = _load(_env_file(lines))
        assert again["R2_ACCESS_KEY_ID"] == values["R2_ACCESS_KEY_ID"]
        assert again["R2_SECRET_ACCESS_KEY"] == values["R2_SECRET_ACCESS_KEY"]
        body = _client(again).get_object(Bucket=again["R2_BUCKET_NAME"], Key="probe.txt")["Body"].read()
        assert body == b"hello"
    finally:
        _stop(proc)
    assert not _weed_running(str(data))


def test_serve_without_dir_removes_its_temporary_folder(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}
    proc, lines = _serve([], env)
    assert any("temporary" in line for line in lines)
    assert len(list(tmp.iterdir())) == 1
    _stop(proc)
    assert proc.returncode == 0
    assert list(tmp.iterdir()) == []
    assert not _weed_running(str(tmp))


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _weed_children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read()
            except OSError:
                continue
            if int(fields[1]) == pid and b"weed" in cmd:
                found.append(int(entry))
    return found


def test_sigterm_or_sigkill_of_serve_leaves_no_server(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        # Signalled once it says the server is up (S3 answered), as a user would after reading that line.
        proc, _ = _serve(["--dir", str(tmp_path / sig.name)], env)
        children = _weed_children_of(proc.pid)
        assert children, "the server never started"
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        deadline = time.time() + 30
        while time.time() < deadline and any(_running(c) for c in children):
            time.sleep(0.05)
        alive = [c for c in children if _running(c)]
        assert not alive, f"weed still running after {sig.name} of `bball storage serve`"
