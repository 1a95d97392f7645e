"""Commento JSON exports: the real sample file, imported as it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from townhall.discussions.models import Comment, Thread
from townhall.migration.models import ImportedItem
from townhall.migration.records import SourceComment, SourceError
from townhall.migration.sources import commento

pytestmark = pytest.mark.django_db


def by_source(site, source_id: str) -> Comment:
    item = ImportedItem.objects.get(site=site, kind="comment", source_id=source_id)
    return Comment.objects.select_related("thread", "author").get(pk=item.target_id)


def test_remark42_sample(samples, make_site, import_file):
    site = make_site(origins=["https://example.com"])
    report = import_file(site, "commento", samples / "remark42-commento.json")
    assert (report.threads_created, report.comments_created, report.commenters_created) == (2, 3, 2)
    assert report.skipped == {} and report.problems == 0 and report.broken_parents == 0
    urls = set(Thread.objects.filter(site=site).values_list("url", flat=True))
    assert urls == {"https://example.com/blog/post/1", "https://example.com/blog/post/2"}

    anonymous = by_source(site, "e7069a7dfcfaed43caf62300a9b0edb1c124ad79d0f5887c93649c15d7f69945")
    assert anonymous.author_name == "Anonymous" and anonymous.author_id is None
    assert anonymous.body_html == "<p>Example comment created by user.</p>"
    assert (anonymous.upvotes, anonymous.downvotes, anonymous.score) == (1, 0, 1)
    assert anonymous.created == datetime(2021, 3, 12, 11, 21, 56, tzinfo=UTC)

    parent = by_source(site, "7d77e39fcd813241d6281478cc8f21ab5f807d043c750bc1a936bc23b34fb854")
    reply = by_source(site, "ea5f7bcd6ac9bb7b657f7d0569831104e1bcf9c253d03c1e16bf9654c49a5ce9")
    assert reply.parent_id == parent.pk and reply.depth == 1
    assert (
        parent.thread.url == "https://example.com/blog/post/1" and parent.thread.comment_count == 2
    )
    assert parent.author.display_name == "User5276"
    assert parent.author.email == "somegreatmail@gmail.com"
    assert parent.author.avatar_url.startswith("https://secure.gravatar.com/avatar/")
    assert reply.author.display_name == "Saturnin Uf"
    assert reply.created == datetime(2021, 5, 11, 15, 43, 1, 852651, tzinfo=UTC)


def test_states_deleted_and_negative_scores(tmp_path):
    path = tmp_path / "commento.json"
    comment = {
        "commentHex": "a", "domain": "news.example", "url": "/x", "commenterHex": "anonymous",
        "markdown": "hi", "parentHex": "root", "score": -2, "state": "unapproved",
        "creationDate": "2021-03-12T11:21:56Z", "deleted": False,
    }  # fmt: skip
    deleted = {**comment, "commentHex": "b", "deleted": True}
    flagged = {**comment, "commentHex": "c", "state": "flagged", "score": 3}
    path.write_text(json.dumps({"version": 1, "comments": [comment, deleted, flagged]}))
    records = list(commento.read(path))
    comments = [r for r in records if isinstance(r, SourceComment)]
    assert [(c.status, c.upvotes, c.downvotes) for c in comments] == [
        ("pending", 0, 2),
        ("pending", 3, 0),
    ]
    assert any(getattr(r, "reason", None) == "deleted" for r in records)


@pytest.mark.parametrize("content", ["", "[1, 2]", '{"version": 1}', "<xml/>", '{"comments": ['])
def test_not_a_commento_file(tmp_path, content):
    path = tmp_path / "export.json"
    path.write_text(content)
    with pytest.raises(SourceError):
        list(commento.read(path))
