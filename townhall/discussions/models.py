from __future__ import annotations

from django.db import models


class Thread(models.Model):
    """The discussion of one article, found by its canonical URL key within a site."""

    site = models.ForeignKey(
        "townhall_sites.Site", on_delete=models.CASCADE, related_name="threads"
    )
    url_key = models.CharField(max_length=255)  # see discussions.urls.canonical_url_key
    url = models.URLField(max_length=2048)
    title = models.CharField(max_length=300, blank=True, default="")
    comment_count = models.PositiveIntegerField(default=0)  # visible comments
    # Bumped by every change a reader could see; thread pages are cached under it.
    version = models.PositiveBigIntegerField(default=1)
    is_open = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "url_key"], name="thread_unique_url_per_site"),
        ]

    def __str__(self) -> str:
        return self.url


class CommentStatus(models.TextChoices):
    VISIBLE = "visible", "Visible"
    PENDING = "pending", "Pending moderation"
    REJECTED = "rejected", "Rejected"
    SPAM = "spam", "Spam"
    DELETED = "deleted", "Deleted"


class Comment(models.Model):
    """A comment. ``body_html`` is rendered and sanitized once, when the body is written.

    ``parent`` is the comment replied to. ``nest_parent`` is where the reply is shown: the same
    comment, except past the site's max depth, where replies attach at the last level.
    ``root`` is the top-level comment of the subtree, so a page of roots loads its replies in one
    query whatever their depth.
    """

    # thread, root and author need no index of their own: the composite indexes below start
    # with them, and every index is one more to write on each post.
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="comments", db_index=False
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    nest_parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    depth = models.PositiveSmallIntegerField(default=0)
    author = models.ForeignKey(
        "townhall_identity.Commenter",
        null=True,
        on_delete=models.SET_NULL,
        related_name="comments",
        db_index=False,
    )
    author_name = models.CharField(max_length=80)
    body = models.TextField()
    body_html = models.TextField()
    status = models.CharField(
        max_length=16, choices=CommentStatus.choices, default=CommentStatus.VISIBLE
    )
    upvotes = models.PositiveIntegerField(default=0)
    downvotes = models.PositiveIntegerField(default=0)
    score = models.IntegerField(default=0)
    # The passage of the article a top-level comment is about ("Inline Feedbacks"), as W3C Web
    # Annotation selectors: {"id"?, "quote": TextQuoteSelector, "position": TextPositionSelector}.
    passage = models.JSONField(null=True, blank=True)
    client_fingerprint = models.CharField(max_length=32, blank=True, default="")
    # What the moderation pipeline found: {"reasons": [{"rule", "action", "detail"}, …],
    # "toxicity": 0.0 to 1.0}. Shown to moderators only.
    moderation = models.JSONField(default=dict, blank=True)
    featured = models.BooleanField(default=False)  # an editor's pick
    # The author's supporter badge (townhall.support), copied here so pages read no other table.
    supporter = models.BooleanField(default=False)
    open_flags = models.PositiveIntegerField(default=0)  # reader reports not yet decided on
    created = models.DateTimeField(db_index=True)
    edited = models.DateTimeField(null=True, blank=True)
    # The SHA-256 of the Idempotency-Key it was posted with, if any (actions.idempotency_digest):
    # a retry of the same post answers this comment instead of storing a second one.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        indexes = [
            # Root pages by each sort order.
            models.Index(fields=["thread", "depth", "created", "id"], name="comment_roots_by_time"),
            models.Index(
                fields=["thread", "depth", "score", "created"], name="comment_roots_by_score"
            ),
            # Replies of a page of roots: each root's first visible ones, its visible total and
            # its hidden ones, all from the index (pages._first_replies).
            models.Index(fields=["root", "status", "created", "id"], name="comment_subtree_status"),
            # The moderation pipeline's "same text again" and "posting fast" checks.
            models.Index(fields=["client_fingerprint", "created"], name="comment_by_client"),
            models.Index(fields=["author", "created"], name="comment_by_author"),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.thread_id}"


class Vote(models.Model):
    """One voter's vote on one comment. ``voter_key`` is ``c:<commenter id>`` for a commenter
    with a token, else ``a:<keyed hash of the client address>``."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="votes")
    voter_key = models.CharField(max_length=40)
    value = models.SmallIntegerField()
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "voter_key"], name="vote_one_per_voter"),
            models.CheckConstraint(condition=models.Q(value__in=[-1, 1]), name="vote_value_pm1"),
        ]

    def __str__(self) -> str:
        return f"{self.value:+d} on comment {self.comment_id}"
