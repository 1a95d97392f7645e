from __future__ import annotations

from django.db import models


class LiveEvent(models.Model):
    """One change readers of a thread see live, kept for an hour so that a page reconnecting
    with ``Last-Event-ID`` gets every event it missed. Written in the transaction of the change
    it announces: an event exists exactly when its change committed."""

    thread = models.ForeignKey(
        "townhall_discussions.Thread", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=16)  # comment, edit, remove, vote
    data = models.TextField()  # the event's JSON, encoded once
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["thread", "id"], name="live_event_replay")]

    def __str__(self) -> str:
        return f"{self.kind} event {self.pk} on thread {self.thread_id}"
