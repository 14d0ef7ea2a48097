"""`bball worker [--cloud] [--once]`."""

from __future__ import annotations

import click


@click.command("worker")
@click.option("--cloud", is_flag=True, help="Take jobs from the S3/R2 bucket instead of the local database.")
@click.option("--once", is_flag=True, help="Process one job (or none, if none is pending) and exit.")
@click.option("--burst", is_flag=True, help="Process every pending job, then exit.")
@click.option("--worker-id", default=None, help="Name in job records (default: WORKER_ID or host-pid).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="Log line format for this worker (same as `bball --log-format`); json for log collectors.")
@click.pass_context
def worker(ctx: click.Context, cloud: bool, once: bool, burst: bool, worker_id: str | None,
           log_format: str | None) -> None:
    """Run a worker until stopped. Ctrl-C / SIGTERM hands back the current job and exits; twice stops now."""
    import logging

    from ..config import get_settings
    from ..logs import WORKER_LOGGER, log_event
    from ..worker.signals import StopFlag
    from .common import setup_logging

    if log_format:
        setup_logging((ctx.find_root().params or {}).get("verbose", 0), log_format)
    log = logging.getLogger(WORKER_LOGGER)
    settings = get_settings()
    stop = StopFlag()
    if cloud:
        from ..worker.cloud import CloudWorker

        once = once or settings.single_job
        w = CloudWorker(settings, worker_id=worker_id, stop=stop)
    else:
        from ..worker.local import LocalWorker

        w = LocalWorker(settings, worker_id=worker_id, stop=stop)
    log_event(log, "worker.started", worker_id=w.worker_id, queue=w.kind,
              mode="once" if once else "burst" if burst else "poll")
    with stop.installed():
        n = w.work(burst=once or burst, max_jobs=1 if once else None)
    log_event(log, "worker.stopped", worker_id=w.worker_id, jobs=n)


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(worker)
