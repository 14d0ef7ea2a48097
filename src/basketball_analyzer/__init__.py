"""Detect and track basketball players in game footage."""

__version__ = "0.1.0"
