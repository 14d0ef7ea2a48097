"""deploy/skypilot/worker.yaml read by SkyPilot's own loader, and its shell steps run against a stub Docker."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

sky = pytest.importorskip(
    "sky", reason="skypilot is not installed: it is the `deploy` group (scripts/test installs it in .venv-deploy)")
from sky.utils import yaml_utils  # noqa: E402

TASK_FILE = Path(__file__).resolve().parents[2] / "deploy" / "skypilot" / "worker.yaml"
SECRETS = {"R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "REGISTRY_PASSWORD"}
REQUIRED = [("IMAGE", "ghcr.io/you/bball-worker:0.1.0"), ("REGISTRY_USERNAME", "you")]


def load(env=REQUIRED, secrets=()):
    """The task as `sky jobs launch --env K=V --secret K=V` builds it."""
    return sky.Task.from_yaml_config(yaml_utils.read_yaml(str(TASK_FILE)), env_overrides=list(env),
                                     secrets_overrides=list(secrets))


def test_the_image_and_registry_user_must_be_given():
    with pytest.raises(ValueError, match="'IMAGE' is None"):
        sky.Task.from_yaml(str(TASK_FILE))
    with pytest.raises(ValueError, match="'REGISTRY_USERNAME' is None"):
        load(env=REQUIRED[:1])


def test_spot_gpus_with_recovery():
    (resources,) = load().resources
    assert resources.accelerators == {"H100": 1}
    assert resources.use_spot
    assert resources.job_recovery == {"strategy": "EAGER_NEXT_REGION", "max_restarts_on_errors": 1}
    assert resources.disk_size >= 50  # the ~10 GB image plus a game video


def test_bucket_secrets_are_declared_without_values():
    task = load()
    assert not task.secrets  # no inline value at all
    assert {ref.name for ref in task._managed_secret_refs} == SECRETS
    assert SECRETS.isdisjoint(task.envs)
    # What `--secret R2_ACCESS_KEY_ID` at launch turns into: a secret, redacted, not an env var.
    task = load(secrets=[("R2_ACCESS_KEY_ID", "AKIAEXAMPLE")])
    assert set(task.secrets) == {"R2_ACCESS_KEY_ID"} and "AKIAEXAMPLE" not in repr(task.secrets)


def test_no_credential_is_written_in_the_file():
    text = TASK_FILE.read_text()
    raw = yaml_utils.read_yaml(str(TASK_FILE))
    assert all(v is None for v in raw["secrets"].values())
    assert all(not v for k, v in raw["envs"].items() if re.search(r"KEY|SECRET|PASSWORD|TOKEN", k))
    assert not re.search(r"AKIA[0-9A-Z]{16}|\b[0-9a-f]{32}\b|[A-Za-z0-9+/]{40}", text)  # keys, R2 account ids
    assert not re.search(r"\$R2_SECRET|\$R2_ACCESS|\$REGISTRY_PASSWORD|\$\{R2_SECRET", text)  # never on a command line


def test_run_starts_one_cloud_worker_per_gpu_from_the_image(tmp_path):
    task = load(secrets=[("R2_ACCESS_KEY_ID", "AKIAEXAMPLE"), ("R2_SECRET_ACCESS_KEY", "s3cr3t")])
    calls = run_step(task, task.run, tmp_path, gpus=2, queue=["1", "0"])
    workers = [c for c in calls if " worker " in c]
    assert len(workers) == 4  # 2 GPUs, twice: a job was still processing after the first burst
    for gpu in ("0", "1"):
        assert any(f"--gpus device={gpu} " in c for c in workers)
    for call in workers:
        assert call.endswith("ghcr.io/you/bball-worker:0.1.0 bball worker --cloud --burst")
        assert "-e R2_ACCESS_KEY_ID " in call and "-e R2_SECRET_ACCESS_KEY " in call
        assert "-e R2_ACCOUNT_ID " not in call  # empty settings are not passed
    assert not any("AKIAEXAMPLE" in c or "s3cr3t" in c for c in calls)
    assert sum("cloud status --json" in c for c in calls) == 2


def test_a_worker_that_fails_fails_the_run(tmp_path):
    task = load()
    proc = run_step(task, task.run, tmp_path, gpus=1, queue=["0"], worker_rc=3, check=False)
    assert proc.returncode == 3


def test_setup_refuses_a_driver_too_old_for_cuda_13(tmp_path):
    task = load(secrets=[("REGISTRY_PASSWORD", "pw")])
    proc = run_step(task, task.setup, tmp_path, driver="570.86.15", check=False)
    assert proc.returncode == 1 and "older than 580" in proc.stderr
    calls = run_step(task, task.setup, tmp_path, driver="580.65.06")
    assert calls == ["login --username you --password-stdin ghcr.io (stdin: pw)", "pull --quiet ghcr.io/you/bball-worker:0.1.0"]


def run_step(task, script, tmp_path, gpus=1, queue=(), worker_rc=0, driver="580.65.06", check=True):
    """Run a setup or run script with SkyPilot's environment and stub `docker` / `nvidia-smi` on PATH.

    Returns the docker calls (one line each), or the CompletedProcess when check is False.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "docker.log"
    log.write_text("")
    (tmp_path / "queue").write_text("\n".join(queue) + "\n")
    stub(bin_dir / "nvidia-smi", f'echo "{driver}"')
    stub(bin_dir / "docker", f"""
case "$1" in info) exit 0;; login) read -r password; echo "$* (stdin: $password)" >> {log}; exit 0;; esac
echo "$*" >> {log}
case "$*" in
  *"cloud status --json"*) n=$(head -n 1 {tmp_path}/queue); sed -i 1d {tmp_path}/queue
     python3 -c "import json; print(json.dumps([{{'manifest': {{'status': 'processing'}}}}] * $n))";;
  *" worker "*) exit {worker_rc};;
esac""")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), "SKYPILOT_NUM_GPUS_PER_NODE": str(gpus),
           **task.envs, "CLOUD_LEASE_SECONDS": "0"}
    env.update({k: v.get_secret_value() for k, v in task.secrets.items()})
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False)
    if not check:
        return proc
    assert proc.returncode == 0, proc.stderr
    return log.read_text().splitlines()


def stub(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
