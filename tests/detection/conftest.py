"""The tiny SAM 3 checkpoint, built once per test session (random weights, real architecture)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_sam3(tmp_path_factory) -> Path:
    """A complete tiny facebook/sam3-style checkpoint directory."""
    import torch
    from support.tiny_sam3 import build_tiny_sam3

    # Two shared cores: one intra-op thread avoids spinning threads fighting over them.
    torch.set_num_threads(1)
    return build_tiny_sam3(tmp_path_factory.mktemp("tiny_sam3") / "sam3")


@pytest.fixture
def sam3_env(tiny_sam3, tmp_path, monkeypatch):
    """Settings pointing at the tiny checkpoint, with an empty HF cache and no hub access."""
    from basketball_analyzer.config import get_settings

    monkeypatch.setenv("CLOUD_MODEL_PATH", str(tiny_sam3))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("SAM3_DEVICE", "SAM3_DTYPE", "SAM3_MASKS", "SAM3_CROSS_PROMPT_IOU", "SAM3_MAX_OBJECTS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    return tiny_sam3


@pytest.fixture(scope="module")
def memory_sam3():
    """(model, processor): the tiny architecture with memory-dependent masks, in memory (see memory_sam3.py)."""
    import torch
    from memory_sam3 import memory_dependent_sam3
    from support.tiny_sam3 import make_processor

    torch.set_num_threads(1)
    return memory_dependent_sam3(), make_processor()
