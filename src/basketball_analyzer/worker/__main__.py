"""`python -m basketball_analyzer.worker [--cloud] [--once]`: the same command as `bball worker`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run `bball worker` with these arguments (same options, errors and exit codes)."""
    from ..cli import cli

    cli.main(args=["worker", *(sys.argv[1:] if argv is None else argv)],
             prog_name="python -m basketball_analyzer.worker")


if __name__ == "__main__":
    main()
