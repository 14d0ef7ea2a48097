"""`bball storage serve [--dir DIR]`: a local S3 server in the foreground, to try the cloud flow before R2."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import click

ENV_FILE = "bball-s3.env"


@click.group("storage")
def storage_group() -> None:
    """A local S3-compatible server, to try the cloud flow before setting up R2."""


@storage_group.command("serve")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the server's data and credentials here, across restarts "
                   "(default: a temporary folder removed on exit).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="S3 port on 127.0.0.1 (default: a free one).")
@click.option("--bucket", default="basketball-analyzer", show_default=True, help="Bucket to create.")
def storage_serve(directory: Path | None, port: int | None, bucket: str) -> None:
    """Run a local S3-compatible server (SeaweedFS) until Ctrl-C; prints how to point bball and workers at it.

    The credentials are generated and written, with the other variables, to DIR/bball-s3.env (readable by
    you only); load that file in the shells that run `bball` and `bball worker --cloud`.
    """
    import tempfile

    from ..cloud.server import LocalS3Server

    temporary = directory is None
    root = Path(tempfile.mkdtemp(prefix="bball-storage-")) if temporary else directory.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    env_file = root / ENV_FILE
    keys = _saved_keys(env_file)
    server = LocalS3Server(directory=root, bucket=bucket, access_key=keys.get("R2_ACCESS_KEY_ID"),
                           secret_key=keys.get("R2_SECRET_ACCESS_KEY"))
    if port is not None:
        server.ports["s3.port"] = port
    import signal

    def _terminate(_signum, _frame):  # SIGTERM stops the server as cleanly as Ctrl-C does
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, _terminate)
    try:
        click.echo(f"Starting SeaweedFS in {root} …", err=True)
        server.start()
        _write_env(env_file, server.env())
        click.echo(f"Local S3 server at {server.endpoint_url}, bucket {bucket!r}"
                   + (" (temporary: its data goes when it stops)." if temporary else f", data in {root}."))
        click.echo("Point bball and workers at it, in each shell that runs them:")
        click.echo(f"  set -a; . {shlex.quote(str(env_file))}; set +a")
        click.echo("That file sets " + ", ".join(server.env()) + " (the keys are generated; not shown here).")
        click.echo("Then try: bball video add VIDEO; bball cloud submit --video-id ID; "
                   "bball worker --cloud --once; bball cloud import-all")
        click.echo("Press Ctrl-C to stop.", err=True)
        _wait_while_up(server)
    except KeyboardInterrupt:
        click.echo("Stopping.", err=True)
    finally:
        server.stop()
        if temporary:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def _saved_keys(env_file: Path) -> dict[str, str]:
    """The variables of an earlier run's env file, so exported credentials keep working after a restart."""
    if not env_file.is_file():
        return {}
    values = {}
    for line in env_file.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            parts = shlex.split(value)
            values[name.strip()] = parts[0] if parts else ""
    return values


def _write_env(env_file: Path, env: dict[str, str]) -> None:
    import os

    from ..atomic import atomic_path

    with atomic_path(env_file) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # secrets: readable by us alone
        with os.fdopen(fd, "w") as fh:
            fh.writelines(f"{k}={shlex.quote(v)}\n" for k, v in env.items())


def _wait_while_up(server) -> None:
    """Block until Ctrl-C; stop with an error when the server stops answering."""
    import socket

    from ..exceptions import StorageError

    host, port = "127.0.0.1", int(server.endpoint_url.rsplit(":", 1)[1])
    misses = 0
    while True:
        time.sleep(1.0)
        try:
            socket.create_connection((host, port), timeout=1).close()
            misses = 0
        except OSError:
            misses += 1
            if misses >= 3:
                raise StorageError(f"the local S3 server stopped answering; see {server.log_path}") from None


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(storage_group)
