"""Where the SAM 3 checkpoint comes from: local-first lookup, completeness checks, `check` and `stage`.

The device and dtype it would run on (`resolve_device`) are decided here too, so `check` can report them.

Lookup order: CLOUD_MODEL_PATH, `/models/sam3` (the worker image), the Hugging Face cache snapshot of
facebook/sam3 (HF_HUB_CACHE / HF_HOME honoured), then the hub id. facebook/sam3 is gated, so a download
needs the licence accepted on the hub and a login; a local copy avoids both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .exceptions import ConfigError, DetectorError

MODEL_ID = "facebook/sam3"
IMAGE_MODEL_DIR = Path("/models/sam3")
"""Where the worker image keeps the model (`COPY models/sam3 /models/sam3`)."""

HOW_TO_GET = (
    f"to get the gated model: accept the licence at https://huggingface.co/{MODEL_ID}, run `hf auth login` "
    f"(or set HF_TOKEN) and `hf download {MODEL_ID}`; or copy a snapshot to CLOUD_MODEL_PATH"
)


SAM3_DTYPES = ("auto", "bfloat16", "float16", "float32")
"""What SAM3_DTYPE may say."""


def resolve_device(settings: Settings) -> tuple[str, str]:
    """(device, dtype) from SAM3_DEVICE / SAM3_DTYPE: `auto` is CUDA in bfloat16 when present, else CPU float32."""
    device = (settings.sam3_device or "auto").strip().lower()
    dtype = (settings.sam3_dtype or "auto").strip().lower()
    if dtype not in SAM3_DTYPES:
        raise ConfigError(f"invalid SAM3_DTYPE {dtype!r}: choose one of {', '.join(SAM3_DTYPES)}")
    if device == "auto":
        try:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            device = "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, dtype


@dataclass(frozen=True)
class ModelLocation:
    """One place the model would be loaded from: `source` is a directory or the hub id."""

    source: str
    origin: str  # CLOUD_MODEL_PATH, image, hf-cache or hub
    local: bool

    @property
    def path(self) -> Path | None:
        """The directory for a local location, else None."""
        return Path(self.source) if self.local else None


@dataclass
class Lookup:
    """The result of a lookup: the chosen location (None when none is usable) and what each place held."""

    location: ModelLocation | None
    looked: list[str] = field(default_factory=list)

    def require(self) -> ModelLocation:
        """The location, or `DetectorError` saying where we looked and how to get the model."""
        if self.location is None:
            raise DetectorError(f"SAM 3 model not found (looked in: {'; '.join(self.looked)}); {HOW_TO_GET}")
        return self.location


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache directory, read from the environment now (not at import time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def cached_snapshot(model_id: str = MODEL_ID) -> Path | None:
    """The cached snapshot directory of `model_id` (the one `refs/main` names, else the newest), or None."""
    repo = hf_hub_cache() / ("models--" + model_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        named = snapshots / ref.read_text().strip()
        if named.is_dir():
            return named
    dirs = [d for d in snapshots.iterdir() if d.is_dir()]
    return max(dirs, key=lambda d: d.stat().st_mtime) if dirs else None


def missing_files(path: Path) -> list[str]:
    """What a checkpoint directory lacks: config, weights (all shards), processor and tokenizer files."""
    import json

    if not path.is_dir():
        return ["the directory itself"]
    entries = list(path.iterdir())
    # A cache snapshot is symlinks into blobs; a link whose blob is gone (an interrupted download, a
    # cleaned cache) counts as missing, named as such.
    have = {p.name for p in entries if p.exists()}
    broken = {p.name for p in entries if p.is_symlink() and not p.exists()}
    missing = []
    if "config.json" not in have:
        missing.append("config.json")
    index = path / "model.safetensors.index.json"
    shards: set[str] = set()
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError):
            shards = set()
            missing.append("a readable model.safetensors.index.json")
        missing += sorted(s for s in shards if s not in have)
    elif not ({"model.safetensors", "pytorch_model.bin"} & have):
        missing.append("model.safetensors")
    if not ({"processor_config.json", "preprocessor_config.json"} & have):
        missing.append("processor_config.json")
    if "tokenizer.json" not in have and not {"vocab.json", "merges.txt"} <= have:
        missing.append("tokenizer.json (or vocab.json + merges.txt)")
    if "tokenizer_config.json" not in have:
        missing.append("tokenizer_config.json")
    # An empty or truncated file is an interrupted copy.
    if "config.json" in have and (path / "config.json").stat().st_size == 0:
        missing.append("config.json (empty file)")
    weights = sorted(shards) if index.is_file() else ["model.safetensors"]
    for name in weights:
        if name in have:
            problem = safetensors_problem(path / name)
            if problem:
                missing.append(f"{name} ({problem})")
    missing = [f"{m} (broken link)" if m in broken else m for m in missing]
    return missing


def safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file cannot be whole (empty, bad header, shorter than its header says), or None.

    Reads only the header: 8 bytes of length, then JSON naming each tensor's byte range.
    """
    import json
    import struct

    size = path.stat().st_size
    if size == 0:
        return "empty file"
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"truncated: {size} bytes"
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, 100_000_000):
            return f"corrupt header (claims {length} bytes in a {size}-byte file)"
        try:
            header = json.loads(fh.read(length))
            end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return "corrupt header"
    if size < 8 + length + end:
        return f"truncated: {size} of {8 + length + end} bytes"
    return None


def local_candidates(settings: Settings) -> list[tuple[str, Path | None]]:
    """The local places, in lookup order, as (origin, directory); a missing cache snapshot is None."""
    places: list[tuple[str, Path | None]] = []
    configured = Path(settings.cloud_model_path).expanduser() if settings.cloud_model_path else None
    if configured is not None and configured != IMAGE_MODEL_DIR:
        places.append(("CLOUD_MODEL_PATH", configured))
    places.append(("image", IMAGE_MODEL_DIR))
    places.append(("hf-cache", cached_snapshot()))
    return places


def find_model(settings: Settings, allow_hub: bool = True) -> Lookup:
    """The first complete local checkpoint, else the hub id (unless offline or `allow_hub` is False)."""
    looked = []
    for origin, path in local_candidates(settings):
        if path is None:
            looked.append(f"{origin} {hf_hub_cache()} (no {MODEL_ID} snapshot)")
            continue
        if not path.exists():
            looked.append(f"{origin} {path} (does not exist)")
            continue
        missing = missing_files(path)
        if missing:
            looked.append(f"{origin} {path} (incomplete: missing {', '.join(missing)})")
            continue
        return Lookup(ModelLocation(str(path), origin, True), looked)
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    if allow_hub and not offline:
        return Lookup(ModelLocation(MODEL_ID, "hub", False), looked)
    looked.append(f"hub {MODEL_ID} ({'HF_HUB_OFFLINE is set' if offline else 'not tried'})")
    return Lookup(None, looked)


def directory_size(path: Path) -> int:
    """Bytes under `path`, following the cache's symlinks to their blobs."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass(frozen=True)
class ModelReport:
    """What `bball models check` prints: which model from where, its size, and the device it would run on."""

    source: str | None
    origin: str | None
    size_bytes: int | None
    device: str
    dtype: str
    looked: tuple[str, ...]

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"source": self.source, "origin": self.origin, "size_bytes": self.size_bytes,
                "device": self.device, "dtype": self.dtype, "looked": list(self.looked)}


def check(settings: Settings) -> ModelReport:
    """Report which model would be loaded from where, its size and the device, without loading it."""
    lookup = find_model(settings)
    loc = lookup.location
    device, dtype = resolve_device(settings)
    size = directory_size(loc.path) if loc is not None and loc.local else None
    return ModelReport(loc.source if loc else None, loc.origin if loc else None, size, device, dtype,
                       tuple(lookup.looked))


_LOADED_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".jinja")
"""What `from_pretrained` of the model, processor and tokenizer reads: configs, safetensors weights, and
tokenizer vocabularies (merges.txt, vocab.json, *.model); not original checkpoints (*.pt) or READMEs."""


def _not_loaded(directory: str, names: list[str]) -> set[str]:
    """`copytree` ignore hook: the names transformers would not load from a snapshot."""
    has_safetensors = any(n.endswith(".safetensors") for n in names)
    keep = {n for n in names if n.endswith(_LOADED_SUFFIXES) and n != "README.txt"}
    if not has_safetensors:  # old checkpoints: PyTorch weights are what loads
        keep |= {n for n in names if n.startswith("pytorch_model") and n.endswith(".bin")}
    return set(names) - keep


@dataclass(frozen=True)
class StageResult:
    """A finished `stage`: where the snapshot came from and went, and how many bytes were copied."""

    source: Path
    dest: Path
    size_bytes: int


def stage(dest: str | os.PathLike, settings: Settings, source: str | os.PathLike | None = None,
          force: bool = False) -> StageResult:
    """Copy a complete local snapshot into `dest` (the Docker build context's `models/sam3`).

    The copy goes to a temporary directory beside `dest` and is renamed into place once verified, so an
    interrupted stage leaves nothing half-written.
    """
    dest = Path(dest).expanduser()
    if source is not None:
        src = Path(source).expanduser()
        if not src.exists():
            raise DetectorError(f"--source {src} does not exist")
    else:
        lookup = find_model(settings, allow_hub=False)
        if lookup.location is None:
            raise DetectorError(f"no local SAM 3 snapshot to stage (looked in: {'; '.join(lookup.looked)}); "
                                f"{HOW_TO_GET}; then run `bball models stage {dest}` again")
        src = lookup.location.path
    missing = missing_files(src)
    if missing:
        raise DetectorError(f"{src} is not a complete SAM 3 snapshot: missing {', '.join(missing)}; "
                            f"re-run `hf download {MODEL_ID}` or pass --source with a complete copy")
    if dest.resolve() == src.resolve():
        raise DetectorError(f"source and destination are the same directory: {src}")
    if dest.exists() and any(dest.iterdir()) and not force:
        raise DetectorError(f"{dest} already exists and is not empty; pass --force to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.staging-", dir=dest.parent))
    try:
        staged = tmp / "model"
        # The cache's snapshot files are symlinks to blobs: copy what they point to, and only what
        # transformers loads (facebook/sam3 also ships the 3.4 GB original `sam3.pt`).
        shutil.copytree(src, staged, symlinks=False, ignore=_not_loaded)
        missing = missing_files(staged)
        if missing:
            raise DetectorError(f"copy to {dest} is incomplete (missing {', '.join(missing)}); check free disk "
                                "space and try again")
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return StageResult(src, dest, directory_size(dest))
