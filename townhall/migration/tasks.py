"""Imports queued from the staff page, run by `townhall worker` (django-tasks)."""

from __future__ import annotations

from django_tasks import task

from townhall.migration.actions import run_stored_import


@task()
def run_queued_import(run_id: int) -> str:
    """Runs a queued ``ImportRun``; returns its final status."""
    run = run_stored_import(run_id)
    return run.status if run is not None else "gone"
