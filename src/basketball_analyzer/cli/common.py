"""What every command shares: error handling, output helpers, progress bars and tables."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import click

from ..exceptions import BballError


class BballGroup(click.Group):
    """A click group that turns our exceptions into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BballError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


def console(stderr: bool = False):
    """A rich console (created on demand so `--help` stays fast)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_table(title: str | None, columns: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """Print a table of rows; numbers right-aligned."""
    from rich.table import Table

    rows = [list(r) for r in rows]
    table = Table(title=title, show_lines=False)
    for i, name in enumerate(columns):
        numeric = bool(rows) and all(isinstance(r[i], (int, float)) for r in rows if r[i] is not None)
        # The first column is the id people copy into the next command: never truncate it.
        widest = max([len(str(r[i])) for r in rows if r[i] is not None] + [len(name)]) if i == 0 else None
        table.add_column(name, justify="right" if numeric else "left", min_width=widest, no_wrap=i == 0)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out = console()
    if not out.is_terminal:  # piped or captured: nobody's window to fit, so truncate nothing
        out.width = max(out.width, 200)
    out.print(table)


def print_json(data: Any) -> None:
    """JSON to stdout, for scripts."""
    click.echo(json.dumps(data, indent=2, default=str))


@contextmanager
def progress_bar(description: str, total: int | None = None, unit: str = "frames"
                 ) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr; yields `update(completed, total, description=None)` (a new description names
    the next stage on the same bar). Hidden when stderr is not a terminal."""
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)

    cons = console(stderr=True)
    count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), count,
                        TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=cons,
                        transient=False, disable=not cons.is_terminal)
    with progress:
        task = progress.add_task(description, total=total)

        def update(completed: int, new_total: int | None = None, description: str | None = None) -> None:
            progress.update(task, completed=completed, total=new_total if new_total is not None else total,
                            **({"description": description} if description else {}))

        yield update


def setup_logging(verbose: int = 0, fmt: str = "text") -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv; `json` for log collectors."""
    from ..logs import configure_logging

    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    configure_logging(level=level, fmt=fmt)


def params_options(f: Callable) -> Callable:
    """--sample-interval, --confidence, --detector, --prompt: shared by analyze, jobs create and cloud submit."""
    from ..detection.factory import available_detectors

    f = click.option("--prompt", "prompts", multiple=True,
                     help='Text prompt for SAM 3 (repeatable). Default: "basketball player".')(f)
    f = click.option("--detector", type=click.Choice(available_detectors()), default=None,
                     help="Detection backend (default: DETECTOR or auto).")(f)
    f = click.option("--confidence", type=click.FloatRange(0, 1), default=None,
                     help="Minimum detection confidence (default: the detector's own: ssd 0.3, hog and "
                          "sam3 0.5).")(f)
    f = click.option("--sample-interval", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Process every N-th frame.")(f)
    return f


def build_params(sample_interval: int, confidence: float | None, detector: str | None,
                 prompts: tuple[str, ...]):
    """DetectionParams from the shared options, DETECTOR filling in when --detector is absent."""
    from ..config import get_settings
    from ..detection import DEFAULT_PROMPT, DetectionParams

    name = detector or get_settings().detector.value
    return DetectionParams(sample_interval=sample_interval, confidence_threshold=confidence, detector=name,
                           prompts=tuple(prompts) or (DEFAULT_PROMPT,))


def fail(message: str) -> None:
    """Stop the command with one line and exit code 1."""
    raise click.ClickException(message)
