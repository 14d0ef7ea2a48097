"""SkyPilot writes ~/.sky (a user hash, its state database) when it is imported: these tests give it a home
of its own, so running them leaves nothing in yours."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_home = tempfile.mkdtemp(prefix="bball-sky-home-")
os.environ["HOME"] = _home
atexit.register(shutil.rmtree, _home, True)
