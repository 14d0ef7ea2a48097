"""`bball models check` and `bball models stage DIR`: where the SAM 3 model comes from."""

from __future__ import annotations

from pathlib import Path

import click

from .common import print_json


@click.group("models")
def models() -> None:
    """Find, check and stage the SAM 3 model (facebook/sam3)."""


@models.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def check(as_json: bool) -> None:
    """Say which SAM 3 model would be loaded from where, its size and the device, without running a video."""
    from ..config import get_settings
    from ..model_store import HOW_TO_GET
    from ..model_store import check as check_model

    report = check_model(get_settings())
    if as_json:
        print_json(report.to_dict())
        return
    size = f"{report.size_bytes / 1e9:.2f} GB" if report.size_bytes is not None else "(download on first use)"
    # Plain lines, not a table: model paths are long and must not be wrapped or cut.
    click.echo(f"model:  {report.source or '(none)'}" + (f" ({report.origin})" if report.origin else ""))
    click.echo(f"size:   {size}")
    click.echo(f"device: {report.device} ({report.dtype})")
    for line in report.looked:
        click.echo(f"skipped: {line}")
    if report.origin == "hub":
        click.echo(f"No local copy: the model would be downloaded from the hub; {HOW_TO_GET}.")
    elif report.source is None:
        raise click.ClickException(f"no usable SAM 3 model; {HOW_TO_GET}")


@models.command("stage")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--source", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Snapshot directory to copy (default: the first local copy the lookup finds).")
@click.option("--force", is_flag=True, help="Replace DEST if it already holds files.")
def stage(dest: Path, source: Path | None, force: bool) -> None:
    """Copy a complete local SAM 3 snapshot into DEST (the Docker build context's models/sam3)."""
    from ..config import get_settings
    from ..model_store import stage as stage_model

    result = stage_model(dest, get_settings(), source=source, force=force)
    click.echo(f"Staged {result.source} -> {result.dest} ({result.size_bytes / 1e6:.1f} MB)")


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(models)
