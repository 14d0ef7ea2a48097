"""Atomic file writes: a file appears at its name complete or not at all, never half-written."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a hidden temporary path beside `dest` (`.NAME.partial`, plus `suffix` for tools that read the
    type off the name) that replaces `dest` when the block ends without error; on an error it is removed.

    Beside `dest`, so the rename stays on one file system and is atomic. A block that removes the
    temporary file itself leaves `dest` as it was.
    """
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.partial{suffix}")
    try:
        yield tmp
        if tmp.exists():
            tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
