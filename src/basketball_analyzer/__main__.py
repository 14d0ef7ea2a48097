"""`python -m basketball_analyzer` runs the CLI."""

from .cli import main

main()
