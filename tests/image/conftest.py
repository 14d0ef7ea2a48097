"""Fixtures for the image tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from dockerspec import Dockerfile, parse_dockerfile


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    """Dockerfile.worker, parsed."""
    return parse_dockerfile()


@pytest.fixture(scope="session")
def tiny_snapshot(tmp_path_factory) -> Path:
    """A complete tiny SAM 3 checkpoint, standing in for a downloaded facebook/sam3 snapshot."""
    from support.tiny_sam3 import build_tiny_sam3

    return build_tiny_sam3(tmp_path_factory.mktemp("snapshot") / "sam3")
