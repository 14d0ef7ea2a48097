"""`bball`: the command line. Commands parse, call the library, and print; they hold no logic of their own."""

from __future__ import annotations

import click

from .. import __version__
from .common import BballGroup, setup_logging


@click.group(cls=BballGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bball")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              envvar="LOG_FORMAT", help="Log line format; json for log collectors. Env: LOG_FORMAT.")
def cli(verbose: int, log_format: str) -> None:
    """Detect and track basketball players in game footage, locally or on cloud GPUs."""
    setup_logging(verbose, log_format)


def _register() -> None:
    from . import (analytics, analyze, cloud, demo, export, jobs, models, players, render, serve, storage, video,
                   worker)

    for module in (video, analyze, jobs, worker, export, render, analytics, players, cloud, models, storage, serve,
                   demo):
        module.register(cli)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="bball")
