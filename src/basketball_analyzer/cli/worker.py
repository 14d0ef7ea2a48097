"""`bball worker [--cloud] [--once]`."""

from __future__ import annotations

import click


@click.command("worker")
@click.option("--cloud", is_flag=True, help="Take jobs from the S3/R2 bucket instead of the local database.")
@click.option("--once", is_flag=True, help="Process one job (or none, if none is pending) and exit.")
@click.option("--burst", is_flag=True, help="Process every pending job, then exit.")
@click.option("--worker-id", default=None, help="Name in job records (default: WORKER_ID or host-pid).")
def worker(cloud: bool, once: bool, burst: bool, worker_id: str | None) -> None:
    """Run a worker until stopped. Ctrl-C / SIGTERM hands back the current job and exits; twice stops now."""
    from ..config import get_settings
    from ..worker.signals import StopFlag

    settings = get_settings()
    stop = StopFlag()
    if cloud:
        from ..worker.cloud import CloudWorker

        once = once or settings.single_job
        w = CloudWorker(settings, worker_id=worker_id, stop=stop)
    else:
        from ..worker.local import LocalWorker

        w = LocalWorker(settings, worker_id=worker_id, stop=stop)
    click.echo(f"Worker {w.worker_id} started ({'cloud' if cloud else 'local'}); Ctrl-C to stop.", err=True)
    with stop.installed():
        n = w.work(burst=once or burst, max_jobs=1 if once else None)
    click.echo(f"Worker {w.worker_id} stopped after {n} job(s).", err=True)


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(worker)
