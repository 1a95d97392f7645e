"""Disqus XML exports: the real sample files, imported as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from townhall.discussions.models import Comment, CommentStatus, Thread
from townhall.migration.models import ImportedItem
from townhall.migration.records import Problem, Skipped, SourceComment, SourceError, SourceThread
from townhall.migration.sources import disqus

pytestmark = pytest.mark.django_db

RADIO_T = "https://radio-t.com/p/2011/03/05/podcast-229/"
TITLE = "\u0420\u0430\u0434\u0438\u043e-\u0422: \u0420\u0430\u0434\u0438\u043e-\u0422 229"
UMPUTUN = "http://radio-t.umputun.com/2011/03/229_8880.html"


def by_source(site, source_id: str) -> Comment:
    item = ImportedItem.objects.get(site=site, kind="comment", source_id=source_id)
    return Comment.objects.select_related("thread", "author").get(pk=item.target_id)


def test_remark42_sample_as_it_is(samples, make_site, import_file):
    site = make_site(origins=["https://radio-t.com"])
    report = import_file(site, "disqus", samples / "remark42-disqus.xml")
    assert (report.threads_created, report.comments_created, report.commenters_created) == (2, 4, 4)
    assert report.skipped == {"spam": 1}
    assert report.broken_parents == 0
    wheres = [p.where for p in report.problem_list]
    # The malformed post (bad date, an unquoted thread id) and the origin not of the site.
    assert wheres == ["http://radio-t.umputun.com", "post dsq:id=x299986073"]
    assert "2011-x09-30" in report.problem_list[1].message

    threads = {t.url: t for t in Thread.objects.filter(site=site)}
    assert set(threads) == {RADIO_T, UMPUTUN}
    assert threads[RADIO_T].title == TITLE and not threads[RADIO_T].is_open
    assert threads[UMPUTUN].is_open
    assert threads[RADIO_T].created == datetime(2011, 3, 7, 21, 17, 17, tzinfo=UTC)
    assert (threads[RADIO_T].comment_count, threads[UMPUTUN].comment_count) == (2, 2)

    first = by_source(site, "299619020")
    assert first.thread.url == RADIO_T and first.parent_id is None
    assert first.author_name == "Alexander Blah" and first.author.email == ""
    assert first.created == datetime(2011, 8, 31, 15, 16, 29, tzinfo=UTC)
    assert "The quick brown fox jumps over the lazy dog." in first.body_html
    assert first.status == CommentStatus.VISIBLE
    # A post without dsq:id is known by its <id>.
    no_id = by_source(site, "id:12345678890")
    assert no_id.body_html == "<p>This comment had no ID</p>" and no_id.thread.url == UMPUTUN
    russian = by_source(site, "299986072")
    assert "Google App Engine скоро выходит из превью статуса." in russian.body_html
    assert "<br>" in russian.body_html
    assert not Comment.objects.filter(body__contains="spam").exists()


def test_deleted_post_and_thread_variants(samples, make_site, import_file):
    site = make_site(origins=["https://radio-t.com", "http://radio-t.umputun.com"])
    report = import_file(site, "disqus", samples / "remark42-disqus-deleted-post.xml")
    assert report.comments_created == 3 and report.skipped == {"deleted": 1, "spam": 1}
    assert not ImportedItem.objects.filter(source_id="299619020").exists()

    other = make_site(origins=["https://radio-t.com", "http://radio-t.umputun.com"])
    report = import_file(other, "disqus", samples / "remark42-disqus-deleted-thread.xml")
    # The deleted thread and its three posts (one of them spam as well) are left out.
    assert (report.threads_created, report.comments_created) == (1, 2)
    assert report.skipped == {"deleted": 4}
    assert list(Thread.objects.filter(site=other).values_list("url", flat=True)) == [UMPUTUN]


def test_isso_sample(samples, make_site, import_file):
    site = make_site(origins=["http://example.org", "http://localhost:4000"])
    report = import_file(site, "disqus", samples / "isso-disqus.xml")
    assert (report.threads_created, report.comments_created) == (2, 4)
    assert report.skipped == {"deleted": 1, "unknown thread": 1}
    assert (report.broken_parents, report.broken_parent_ids) == (1, ["11"])
    assert [(p.where, "1337" in p.message) for p in report.problem_list] == [
        ("thread 3", False),
        ("comment 6", True),
    ]
    four, five, eight, eleven = (by_source(site, i) for i in ("4", "5", "8", "11"))
    assert five.parent_id == four.pk and five.root_id == four.pk and five.depth == 1
    assert eleven.parent_id is None and eleven.depth == 0  # its parent 9 was deleted
    assert eight.thread.url == "http://localhost:4000/blog/2013/02/12/redacted/index.html"
    assert eight.thread.title == ""
    assert four.thread.url == "http://example.org/" and four.thread.title == "Hello, World!"
    assert four.thread.comment_count == 3
    assert not ImportedItem.objects.filter(kind="comment", source_id="6").exists()
    # peter is anonymous (no username): one commenter by name and email; user has a username.
    assert four.author.display_name == "peter" and five.author.display_name == "user"
    assert five.author_id == eleven.author_id


def test_reader_records(samples):
    records = list(disqus.read(samples / "isso-disqus.xml"))
    kinds = [type(r).__name__ for r in records]
    assert kinds.count("SourceThread") == 3 and kinds.count("SourceComment") == 5
    assert Skipped("comment", "9", "deleted") in records
    five = next(r for r in records if isinstance(r, SourceComment) and r.source_id == "5")
    assert (
        five.parent_id == "4" and five.author.key == "user" and five.html == "<p>Hello, World.</p>"
    )
    four = next(r for r in records if isinstance(r, SourceComment) and r.source_id == "4")
    assert four.author.key == ""  # anonymous


def test_leading_garbage_bom_and_pending(tmp_path):
    path = tmp_path / "export.xml"
    path.write_bytes(
        b"\xef\xbb\xbf`\n<?xml version='1.0'?><disqus xmlns='http://disqus.com' "
        b"xmlns:dsq='http://disqus.com/disqus-internals'>"
        b"<thread dsq:id='1'><link>https://news.example/a</link></thread>"
        b"<post dsq:id='2'><message>hi</message><createdAt>2020-01-01T00:00:00Z</createdAt>"
        b"<isApproved>false</isApproved><author><name>A</name></author>"
        b"<thread dsq:id='1'/></post>"
        b"<post><message>no id</message><thread dsq:id='1'/></post></disqus>"
    )
    records = list(disqus.read(path))
    assert isinstance(records[0], SourceThread) and records[0].url == "https://news.example/a"
    assert isinstance(records[1], SourceComment) and records[1].status == "pending"
    assert isinstance(records[2], Problem) and "without dsq:id" in records[2].message


@pytest.mark.parametrize(
    "content", [b"", b"not xml at all", b'{"version": 1}', b"<rss><channel/></rss>"]
)
def test_not_a_disqus_file(tmp_path, content):
    path = tmp_path / "export.xml"
    path.write_bytes(content)
    with pytest.raises(SourceError, match="not a Disqus"):
        list(disqus.read(path))


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="Cannot read"):
        list(disqus.read(Path(tmp_path / "nope.xml")))
