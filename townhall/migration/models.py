"""What was imported from where: the source ids remembered (so importing a file again creates
nothing new) and a record of every import run (the staff page's list, the worker's queue)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportedKind(models.TextChoices):
    THREAD = "thread", "Thread"
    COMMENT = "comment", "Comment"
    COMMENTER = "commenter", "Commenter"


class ImportedItem(models.Model):
    """One source id of a site's imported thread, comment or commenter, and the Townhall row
    (``target_id``: a Thread, Comment or Commenter id, by ``kind``) it became."""

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16)  # a format name: "disqus", "commento", …
    kind = models.CharField(max_length=10, choices=ImportedKind.choices)
    source_id = models.CharField(max_length=255)
    target_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "source", "kind", "source_id"], name="imported_item_once"
            ),
        ]
        indexes = [
            # The export: what a thread or comment was imported as, by its Townhall id.
            models.Index(fields=["site", "kind", "target_id"], name="imported_item_by_target"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.source_id} → {self.target_id}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One import of a file into a site, from the command line or the staff page."""

    site = models.ForeignKey(
        "townhall_sites.Site", on_delete=models.CASCADE, related_name="import_runs"
    )
    format = models.CharField(max_length=16)
    filename = models.CharField(max_length=255)
    # Where the staff page stored the upload (under VAR_DIR/imports/); "" for the command line.
    stored_path = models.CharField(max_length=1024, blank=True, default="")
    base_url = models.CharField(max_length=2048, blank=True, default="")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)  # ImportReport.as_dict()
    error = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["site", "-created"], name="import_run_by_site")]

    def __str__(self) -> str:
        return f"{self.format} import of {self.filename} into {self.site_id} ({self.status})"
