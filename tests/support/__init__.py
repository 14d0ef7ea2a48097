"""Helpers shared by tests: test fixtures that are real artefacts built locally (e.g. a tiny SAM 3 checkpoint)."""
