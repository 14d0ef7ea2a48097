"""SAM 3 model lookup (CLOUD_MODEL_PATH, /models/sam3, the HF cache, the hub), `models check` and `models stage`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from basketball_analyzer import model_store
from basketball_analyzer.cli import cli
from basketball_analyzer.config import get_settings, load_settings
from basketball_analyzer.exceptions import DetectorError


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """The tiny SAM 3 checkpoint (built once for this module)."""
    import torch
    from support.tiny_sam3 import build_tiny_sam3

    torch.set_num_threads(1)
    return build_tiny_sam3(tmp_path_factory.mktemp("ckpt") / "sam3")


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty lookup places under tmp_path: CLOUD_MODEL_PATH, the image's /models/sam3 and HF_HOME."""
    p = {"configured": tmp_path / "configured", "image": tmp_path / "image" / "sam3", "hf_home": tmp_path / "hf"}
    monkeypatch.setattr(model_store, "IMAGE_MODEL_DIR", p["image"])
    monkeypatch.setenv("CLOUD_MODEL_PATH", str(p["configured"]))
    monkeypatch.setenv("HF_HOME", str(p["hf_home"]))
    for name in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "SAM3_DEVICE", "SAM3_DTYPE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    return p


def put_in_cache(checkpoint: Path, hf_home: Path, revision: str = "0123abcd") -> Path:
    """Lay the checkpoint out as the hub cache does: blobs, a snapshot of symlinks, refs/main."""
    repo = hf_home / "hub" / "models--facebook--sam3"
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for f in checkpoint.iterdir():
        blob = repo / "blobs" / f"blob-{f.name}"
        shutil.copy(f, blob)
        (snapshot / f.name).symlink_to(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def test_lookup_order_with_the_checkpoint_at_each_place_in_turn(checkpoint, places):
    from basketball_analyzer.detection.sam3 import load_sam3

    snapshot = put_in_cache(checkpoint, places["hf_home"])
    shutil.copytree(checkpoint, places["image"])
    shutil.copytree(checkpoint, places["configured"])
    expected = [("CLOUD_MODEL_PATH", places["configured"]), ("image", places["image"]), ("hf-cache", snapshot)]
    for origin, path in expected:
        location = model_store.find_model(load_settings()).require()
        assert (location.origin, Path(location.source), location.local) == (origin, path, True)
        model, processor = load_sam3(location.source, location.local, "cpu", "float32")
        assert type(model).__name__ == "Sam3VideoModel" and processor.target_size == 112
        shutil.rmtree(path)
    location = model_store.find_model(load_settings()).require()
    assert (location.origin, location.source, location.local) == ("hub", "facebook/sam3", False)


def test_incomplete_copies_are_skipped_and_named(checkpoint, places, monkeypatch):
    shutil.copytree(checkpoint, places["configured"])
    (places["configured"] / "model.safetensors").unlink()
    shutil.copytree(checkpoint, places["image"])
    lookup = model_store.find_model(load_settings())
    assert lookup.location.origin == "image"
    assert any("configured (incomplete: missing model.safetensors)" in line for line in lookup.looked)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.rmtree(places["image"])
    with pytest.raises(DetectorError, match="HF_HUB_OFFLINE is set.*accept the licence"):
        model_store.find_model(load_settings()).require()


def test_missing_files_names_config_weights_shards_processor_and_tokenizer(checkpoint, tmp_path):
    copy = shutil.copytree(checkpoint, tmp_path / "c")
    assert model_store.missing_files(copy) == []
    for name in ("config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json"):
        (copy / name).unlink()
    (copy / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "model-1.safetensors"}}))
    assert model_store.missing_files(copy) == [
        "config.json", "model-1.safetensors", "processor_config.json",
        "tokenizer.json (or vocab.json + merges.txt)", "tokenizer_config.json"]


def test_models_check_prints_source_size_and_device(checkpoint, places):
    shutil.copytree(checkpoint, places["image"])
    result = CliRunner().invoke(cli, ["models", "check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["source"] == str(places["image"]) and report["origin"] == "image"
    assert report["size_bytes"] == model_store.directory_size(checkpoint) > 0
    assert (report["device"], report["dtype"]) == ("cpu", "float32")
    assert "configured (does not exist)" in report["looked"][0]
    table = CliRunner().invoke(cli, ["models", "check"])
    assert table.exit_code == 0 and str(places["image"]) in table.output and "cpu" in table.output


def test_models_stage_copies_a_cached_snapshot_and_verifies_it(checkpoint, places, tmp_path):
    put_in_cache(checkpoint, places["hf_home"])
    dest = tmp_path / "context" / "models" / "sam3"
    result = CliRunner().invoke(cli, ["models", "stage", str(dest)])
    assert result.exit_code == 0, result.output
    assert "Staged" in result.output and str(dest) in result.output
    assert model_store.missing_files(dest) == []
    assert not any(p.is_symlink() for p in dest.iterdir())  # blobs copied, not links into the cache
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in checkpoint.iterdir())
    again = CliRunner().invoke(cli, ["models", "stage", str(dest)])
    assert again.exit_code == 1 and "pass --force" in again.output
    forced = CliRunner().invoke(cli, ["models", "stage", str(dest), "--force"])
    assert forced.exit_code == 0 and model_store.missing_files(dest) == []
    assert [p.name for p in dest.parent.iterdir()] == ["sam3"]  # no staging leftovers


def test_models_stage_refuses_an_incomplete_source_and_writes_nothing(checkpoint, places, tmp_path):
    broken = shutil.copytree(checkpoint, tmp_path / "broken")
    (broken / "tokenizer_config.json").unlink()
    dest = tmp_path / "out" / "sam3"
    result = CliRunner().invoke(cli, ["models", "stage", str(dest), "--source", str(broken)])
    assert result.exit_code == 1
    assert "missing tokenizer_config.json" in result.output and "Traceback" not in result.output
    assert not dest.exists()
    nothing = CliRunner().invoke(cli, ["models", "stage", str(dest)])
    assert nothing.exit_code == 1 and "no local SAM 3 snapshot to stage" in nothing.output
    assert len(nothing.output.strip().splitlines()) == 1


def test_a_broken_link_in_a_cache_snapshot_is_skipped_not_a_crash(checkpoint, places):
    from basketball_analyzer.detection.sam3 import sam3_availability

    snapshot = put_in_cache(checkpoint, places["hf_home"])
    (snapshot / "model.safetensors").resolve().unlink()  # the blob is gone, the link dangles
    assert model_store.missing_files(snapshot) == ["model.safetensors (broken link)"]
    lookup = model_store.find_model(load_settings(), allow_hub=False)
    assert lookup.location is None
    assert any("hf-cache" in line and "model.safetensors (broken link)" in line for line in lookup.looked)
    ok, why = sam3_availability(load_settings())  # what `auto` asks: an answer, not a traceback
    assert not ok and "broken link" in why
    assert model_store.directory_size(snapshot) > 0


def test_a_truncated_checkpoint_is_one_line_naming_problem_and_fix(checkpoint, places, monkeypatch):
    from basketball_analyzer.detection.sam3 import Sam3Detector, load_sam3

    copy = shutil.copytree(checkpoint, places["configured"])
    weights = copy / "model.safetensors"
    full = weights.stat().st_size
    with open(weights, "r+b") as fh:
        fh.truncate(full // 2)
    assert model_store.missing_files(copy) == [f"model.safetensors (truncated: {full // 2} of {full} bytes)"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DetectorError) as err:
        Sam3Detector.from_settings(load_settings())
    message = str(err.value)
    assert "\n" not in message and f"truncated: {full // 2} of {full} bytes" in message and "hf download" in message
    # Loading it anyway (a corrupt file the header check cannot see) is still one line, not a traceback.
    with pytest.raises(DetectorError) as err:
        load_sam3(str(copy), True, "cpu", "float32")
    assert "\n" not in str(err.value) and "truncated or corrupt" in str(err.value)
    weights.write_bytes(b"\xff" * 64)
    assert model_store.safetensors_problem(weights).startswith("corrupt header")


def test_models_stage_copies_only_what_transformers_loads(checkpoint, places, tmp_path):
    source = shutil.copytree(checkpoint, tmp_path / "snapshot")
    (source / "sam3.pt").write_bytes(b"\0" * 4096)  # facebook/sam3's original 3.4 GB checkpoint
    (source / "README.md").write_text("# model card")
    dest = tmp_path / "out" / "sam3"
    result = CliRunner().invoke(cli, ["models", "stage", str(dest), "--source", str(source)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in checkpoint.iterdir())
    assert model_store.missing_files(dest) == []
