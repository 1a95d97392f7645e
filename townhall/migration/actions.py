"""Import runs: a file read by its format's reader and written by the engine, with a record
(``ImportRun``) of what was asked and what came of it."""

from __future__ import annotations

import hashlib
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from townhall.migration import app_settings, sources
from townhall.migration.engine import ImportReport, run_import
from townhall.migration.models import ImportRun, ImportStatus
from townhall.sites.models import Site
from townhall.sites.origins import InvalidOrigin, normalize_origin


def check_base_url(value: str) -> str:
    """An absolute http(s) URL for resolving path-only page URLs; ValueError otherwise."""
    value = value.strip()
    parts = urlsplit(value)
    try:
        normalize_origin(f"{parts.scheme}://{parts.netloc}")
    except (InvalidOrigin, ValueError):
        raise ValueError(
            f"The base URL {value[:100]!r} is not an absolute http(s) URL such as "
            "https://news.example"
        ) from None
    return value


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def do_run_import_file(
    site: Site,
    path: Path,
    *,
    format: str,
    dry_run: bool = False,
    base_url: str | None = None,
    progress: bool = False,
    run: ImportRun | None = None,
    requested_by: Any = None,
) -> ImportReport:
    """Imports ``path`` (of ``format``) into ``site`` and records it as an ``ImportRun``: the
    given one (a run queued by the staff page), else a new one, except for a dry run from the
    command line, which writes nothing at all. Raises what the reader or the engine raised
    (``SourceError`` for a file that is not of that format), after recording the failure.

    Precondition: ``base_url`` passed ``check_base_url``.
    """
    read = sources.reader(format)
    if run is None and not dry_run:
        run = ImportRun.objects.create(
            site=site,
            format=format,
            filename=path.name[:255],
            base_url=base_url or "",
            dry_run=dry_run,
            requested_by=requested_by,
        )
    try:
        if run is not None:
            run.status, run.sha256 = ImportStatus.RUNNING, file_sha256(path)
            run.save(update_fields=["status", "sha256"])
        with tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            desc=f"Importing {path.name}",
        ) as bar:
            report = run_import(
                site,
                read(path, on_bytes=bar.update),
                source=format,
                dry_run=dry_run,
                base_url=base_url,
            )
    except BaseException as error:
        if run is not None:
            _finish(run, ImportStatus.FAILED, error=_describe(error))
        raise
    if run is not None:
        _finish(run, ImportStatus.DONE, report=report.as_dict())
    return report


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"Cannot read the file: {error.strerror}"
    return str(error) or type(error).__name__


def _finish(run: ImportRun, status: str, *, report: dict | None = None, error: str = "") -> None:
    with transaction.atomic():
        run.status, run.finished, run.error = status, timezone.now(), error[:10_000]
        run.report = report or {}
        run.save(update_fields=["status", "finished", "error", "report"])


def do_queue_import(
    site: Site,
    upload: Any,
    *,
    format: str,
    dry_run: bool,
    base_url: str | None,
    requested_by: Any,
) -> ImportRun:
    """Stores an uploaded file under the var directory and queues its import for the worker
    (``tasks.run_queued_import``). Precondition: the upload is within the size limit and
    ``base_url`` passed ``check_base_url``."""
    from townhall.migration.tasks import run_queued_import

    folder = app_settings.upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        run = ImportRun.objects.create(
            site=site,
            format=format,
            filename=Path(upload.name or "upload").name[:255],
            base_url=base_url or "",
            dry_run=dry_run,
            requested_by=requested_by,
        )
        stored = folder / f"run-{run.pk}-{secrets.token_hex(8)}"
        with stored.open("wb") as file:
            for chunk in upload.chunks():
                file.write(chunk)
        run.stored_path = str(stored)
        run.save(update_fields=["stored_path"])
        transaction.on_commit(lambda: run_queued_import.enqueue(run.pk))
    return run


def run_stored_import(run_id: int) -> ImportRun | None:
    """The worker's side of a queued run: imports its stored file, records the outcome, then
    deletes the file. A failure is recorded on the run (never raised: the queue has nothing
    to retry)."""
    run = ImportRun.objects.select_related("site").filter(pk=run_id).first()
    if run is None or run.status != ImportStatus.QUEUED:
        return run
    path = Path(run.stored_path)
    try:
        do_run_import_file(
            run.site,
            path,
            format=run.format,
            dry_run=run.dry_run,
            base_url=run.base_url or None,
            run=run,
        )
    except Exception as error:  # recorded on the run by do_run_import_file
        if run.status != ImportStatus.FAILED:
            _finish(run, ImportStatus.FAILED, error=_describe(error))
    finally:
        path.unlink(missing_ok=True)
    return run
