from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from townhall.migration.export import export_site, export_site_to_file
from townhall.sites.models import Site


class Command(BaseCommand):
    help = (
        "Export a site's discussions (threads, commenters, comments, votes) as Townhall's JSON "
        "Lines format (docs/export-format.md), which `townhall import --format townhall` reads."
    )

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True, help="The site's slug.")
        parser.add_argument(
            "--output",
            "-o",
            type=Path,
            help="Write here (atomically; gzip-compressed when it ends in .gz), not stdout.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(slug=options["site"]).first()
        if site is None:
            raise CommandError(f"There is no site {options['site']!r}.")
        output: Path | None = options["output"]
        if output is None:
            # The export is bytes; a test's StringIO stands in for stdout as text.
            buffer = getattr(self.stdout._out, "buffer", None)
            stream = buffer if buffer is not None else _TextOut(self.stdout._out)
            export_site(site, stream)
            stream.flush()
            return
        if not output.parent.is_dir():
            raise CommandError(f"There is no directory {str(output.parent)!r}.")
        summary = export_site_to_file(site, output)
        self.stdout.write(
            f"Exported site {site.slug!r} to {output}: {summary.threads} threads, "
            f"{summary.commenters} commenters, {summary.comments} comments, "
            f"{summary.votes} votes."
        )


class _TextOut:
    def __init__(self, text: Any) -> None:
        self.text = text

    def write(self, data: bytes) -> int:
        self.text.write(data.decode())
        return len(data)

    def flush(self) -> None:
        self.text.flush()
