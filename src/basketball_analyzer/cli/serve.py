"""`bball serve`: the web app (API, viewer, jobs) on uvicorn."""

from __future__ import annotations

import click


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Any address but loopback requires a token (WEB_TOKEN, or one is made).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port.")
def serve(host: str, port: int) -> None:
    """Serve the web app: videos, the viewer with boxes drawn over the video, jobs; API docs at /docs."""
    import secrets

    import uvicorn

    from ..config import get_settings
    from ..db.engine import get_engine, make_safe
    from ..logs import add_secret
    from ..web.app import create_app

    settings = get_settings()
    get_engine(settings.database_url)  # a bad DATABASE_URL fails here, in one line
    token = settings.web_token.get_secret_value() if settings.web_token else None
    if token is None and not _is_loopback(host):
        token = secrets.token_urlsafe(24)
        add_secret(token)
    app = create_app(settings, token=token)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    click.echo(f"Serving {make_safe(settings.database_url)} at {url}")
    click.echo("Press Ctrl-C to stop.")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(serve)
