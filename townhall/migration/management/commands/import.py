"""``townhall import --site SLUG --format FMT FILE``: comments from another system (or from
Townhall's own export) into a site. See docs/import.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from townhall.migration.actions import check_base_url, do_run_import_file
from townhall.migration.records import FORMATS, SourceError
from townhall.sites.models import Site


class Command(BaseCommand):
    help = (
        "Import an export file of Disqus, WordPress (with wpDiscuz), Isso, Commento or Townhall "
        "into a site. Importing the same file again creates nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The export file.")
        parser.add_argument("--site", required=True, metavar="SLUG")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument(
            "--dry-run", action="store_true", help="Import, report, then roll everything back."
        )
        parser.add_argument(
            "--base-url",
            metavar="URL",
            help="Where path-only page URLs of the file are (default: the site's first origin).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(slug=options["site"]).first()
        if site is None:
            raise CommandError(f"There is no site {options['site']!r} (townhall createsite).")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        base_url = options["base_url"]
        if base_url is not None:
            try:
                base_url = check_base_url(base_url)
            except ValueError as error:
                raise CommandError(str(error)) from None
        show = not options["no_progress"] and sys.stderr.isatty()
        try:
            report = do_run_import_file(
                site,
                path,
                format=options["format"],
                dry_run=options["dry_run"],
                base_url=base_url,
                progress=show,
            )
        except SourceError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}") from None
        except DatabaseError as error:
            raise CommandError(f"The import failed; nothing was written: {error}") from None
        for line in report.lines():
            self.stdout.write(line)
