"""The import engine: all or nothing, safe to run again, exact dry runs, trees, text, memory."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, IntegrityError

from tests.migration.conftest import disqus_xml
from townhall.discussions.actions import do_post_comment
from townhall.discussions.models import Comment, Thread, Vote
from townhall.discussions.rendering import render_markdown
from townhall.identity.models import Commenter
from townhall.migration import engine
from townhall.migration.engine import run_import
from townhall.migration.models import ImportedItem
from townhall.migration.records import (
    Skipped,
    SourceAuthor,
    SourceComment,
    SourceThread,
    SourceVote,
)
from townhall.migration.sources import disqus

pytestmark = pytest.mark.django_db

WHEN = datetime(2020, 5, 1, tzinfo=UTC)


def comment(source_id, parent=None, thread="t", **fields):
    fields.setdefault("author", SourceAuthor(name="Reader", email="r@example.org", key="r"))
    fields.setdefault("markdown", f"Comment {source_id}")
    return SourceComment(
        source_id=source_id, thread_id=thread, parent_id=parent, created=WHEN, **fields
    )


THREAD = SourceThread(source_id="t", url="https://news.example/a/", title="A")


def table_counts():
    return tuple(
        model.objects.count() for model in (Thread, Comment, Commenter, Vote, ImportedItem)
    )


def snapshot():
    return (
        table_counts(),
        list(Thread.objects.order_by("pk").values_list("pk", "comment_count", "version")),
    )


def test_importing_twice_creates_nothing_new(samples, site, import_file):
    first = import_file(site, "disqus", samples / "isso-disqus.xml")
    before = snapshot()[0]
    again = import_file(site, "disqus", samples / "isso-disqus.xml")
    assert table_counts() == before
    assert (again.threads_created, again.comments_created, again.commenters_created) == (0, 0, 0)
    assert (again.threads_existing, again.comments_existing) == (2, first.comments_created)


def test_a_dry_run_writes_nothing_and_reports_the_same(samples, make_site, import_file):
    site = make_site(origins=["https://radio-t.com"])
    before = snapshot()
    dry = import_file(site, "disqus", samples / "remark42-disqus.xml", dry_run=True)
    assert snapshot() == before
    real = import_file(site, "disqus", samples / "remark42-disqus.xml")
    assert dry.as_dict() == {**real.as_dict(), "dry_run": True}
    assert dry.lines()[0].startswith("Dry run")


def test_a_reader_failing_midway_leaves_everything_as_it_was(samples, site, import_file):
    import_file(site, "disqus", samples / "isso-disqus.xml")
    before = snapshot()

    def failing():
        yield THREAD
        for number in range(2500):  # past two batches
            yield comment(f"c{number}")
        raise OSError("the disk went away")

    with pytest.raises(OSError):
        run_import(site, failing(), source="disqus")
    assert snapshot() == before


def test_a_database_error_midway_leaves_everything_as_it_was(site, monkeypatch):
    before = snapshot()
    real = engine._Importer._write
    calls = []

    def write(self, ready):
        calls.append(1)
        if len(calls) == 2:
            raise IntegrityError("simulated")
        return real(self, ready)

    monkeypatch.setattr(engine._Importer, "_write", write)
    records = [THREAD, *(comment(f"c{n}") for n in range(1500))]
    with pytest.raises(DatabaseError):
        run_import(site, records, source="disqus")
    assert snapshot() == before


def test_replies_before_their_parent_and_broken_references(site):
    records = [
        THREAD,
        comment("reply-to-later", parent="later"),
        comment("deep", parent="reply-to-later"),
        comment("later"),
        Skipped("comment", "gone", "spam"),
        comment("reply-to-gone", parent="gone"),
        comment("reply-to-nothing", parent="nowhere"),
        comment("under-orphan", parent="reply-to-nothing"),
    ]
    report = run_import(site, records, source="disqus")
    assert report.comments_created == 6 and report.skipped == {"spam": 1}
    assert sorted(report.broken_parent_ids) == ["reply-to-gone", "reply-to-nothing"]
    got = {
        item.source_id: Comment.objects.get(pk=item.target_id)
        for item in ImportedItem.objects.filter(kind="comment")
    }
    assert got["reply-to-later"].parent_id == got["later"].pk
    assert got["deep"].parent_id == got["reply-to-later"].pk
    assert (got["deep"].root_id, got["deep"].depth) == (got["later"].pk, 2)
    assert got["reply-to-gone"].parent_id is None and got["reply-to-nothing"].depth == 0
    assert got["under-orphan"].parent_id == got["reply-to-nothing"].pk
    assert Thread.objects.get().comment_count == 6


def test_the_sites_max_depth_is_kept(make_site):
    site = make_site(max_depth=1)
    records = [THREAD, comment("a"), comment("b", parent="a"), comment("c", parent="b")]
    run_import(site, records, source="disqus")
    a, b, c = (
        Comment.objects.get(pk=ImportedItem.objects.get(source_id=s).target_id) for s in "abc"
    )
    assert (b.depth, b.nest_parent_id) == (1, a.pk)
    assert (c.parent_id, c.depth, c.nest_parent_id, c.root_id) == (b.pk, 1, a.pk, a.pk)


def test_html_is_sanitized_as_new_comments_are(tmp_path, site, import_file):
    html = (
        '<p>Hi <script>alert("x")</script><a href="javascript:alert(1)">click</a> '
        '<img src="https://tracker.example/p.png" alt="pixel"> <b>bold</b></p>'
    )
    path = tmp_path / "export.xml"
    path.write_bytes(disqus_xml(1, threads=1, message=html.replace("{", "{{").replace("}", "}}")))
    import_file(site, "disqus", path)
    stored = Comment.objects.get()
    assert stored.body_html == render_markdown(stored.body)
    assert "<script" not in stored.body_html and 'href="javascript' not in stored.body_html
    assert "<img" not in stored.body_html and "<strong>bold</strong>" in stored.body_html
    assert 'href="https://tracker.example/p.png"' in stored.body_html  # an image becomes a link


def test_an_existing_thread_at_that_url_is_reused(site, api):
    posted = do_post_comment(site, url="https://news.example/a/?utm_source=x", body="Hello")
    report = run_import(site, [THREAD, comment("a")], source="disqus")
    assert (report.threads_created, report.threads_existing) == (0, 1)
    thread = Thread.objects.get()
    assert thread.pk == posted.comment.thread_id and thread.comment_count == 2


def test_paths_resolve_against_the_base_url_or_the_first_origin(site):
    records = [SourceThread("p", "/2014/test/"), comment("a", thread="p")]
    run_import(site, records, source="isso")
    assert Thread.objects.get().url == "https://news.example/2014/test/"
    run_import(site, [SourceThread("q", "/x/"), comment("b", thread="q")], source="isso",
               base_url="https://old.example/blog/")  # fmt: skip
    assert Thread.objects.filter(url="https://old.example/x/").exists()


def test_votes_aliases_statuses_and_commenters(site):
    author = SourceAuthor(name="  Ted   " + "Z" * 100, email="not an email", key="ted")
    records = [
        THREAD,
        comment(
            "a",
            author=author,
            status="pending",
            upvotes=2,
            downvotes=1,
            votes=(SourceVote("a:1", 1), SourceVote("a:2", 1), SourceVote("a:3", -1)),
            aliases=(("wordpress", "77"),),
            featured=True,
        ),
        comment("b", author=SourceAuthor(name="", email="")),
        comment("c", author=author),
    ]
    report = run_import(site, records, source="townhall")
    assert report.votes_created == 3 and report.commenters_created == 1
    assert any("Invalid email" in p.message for p in report.problem_list)
    a = Comment.objects.get(pk=ImportedItem.objects.get(source_id="a").target_id)
    assert (a.status, a.upvotes, a.downvotes, a.score, a.featured) == ("pending", 2, 1, 1, True)
    assert len(a.author_name) == 80 and a.author.email == ""
    b = Comment.objects.get(pk=ImportedItem.objects.get(source_id="b").target_id)
    assert b.author_id is None and b.author_name == "Anonymous"
    assert Thread.objects.get().comment_count == 2  # the pending one is not counted
    # Known under its alias: an import of the WordPress file finds it again.
    again = run_import(site, [SourceThread("t", "https://news.example/a/"), comment("77")],
                       source="wordpress")  # fmt: skip
    assert (again.comments_created, again.comments_existing) == (0, 1)


def test_a_thread_version_moves_on(site):
    thread = do_post_comment(site, url="https://news.example/a/", body="Hello").comment.thread
    version = Thread.objects.get(pk=thread.pk).version
    run_import(site, [THREAD, comment("a")], source="disqus")
    assert Thread.objects.get(pk=thread.pk).version > version


def test_memory_stays_bounded(tmp_path, make_site, monkeypatch):
    """Not a benchmark: the peak of Python allocations while streaming 20,000 posts is small
    and about what 4,000 posts take: it does not grow with the file."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 500)

    def peak_of(posts: int) -> int:
        path = tmp_path / f"{posts}.xml"
        path.write_bytes(disqus_xml(posts, threads=posts // 100))
        site = make_site()
        tracemalloc.start()
        try:
            report = run_import(site, disqus.read(path), source="disqus")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert report.comments_created == posts and report.broken_parents == 0
        return peak

    small, large = peak_of(4_000), peak_of(20_000)
    assert large < 10 * 1024 * 1024, f"peak {large / 1e6:.1f} MB"
    # One entry per thread and per commenter grows (200 threads instead of 40), nothing more.
    assert large < small * 1.5 + 1024 * 1024, (small, large)


def test_a_thread_deleted_since_its_import_is_made_again(site):
    run_import(site, [THREAD, comment("a")], source="disqus")
    Thread.objects.all().delete()
    report = run_import(site, [THREAD, comment("b")], source="disqus")
    assert report.threads_created == 1
    thread = Thread.objects.get()
    assert ImportedItem.objects.get(kind="thread").target_id == thread.pk


def test_ids_longer_than_the_column_are_remembered_by_their_hash(site):
    long_thread, long_parent = "t" * 300, "p" * 300
    records = [
        SourceThread(long_thread, "https://news.example/long/"),
        comment(long_parent, thread=long_thread),
        *(comment(f"c{n}", thread=long_thread) for n in range(engine.BATCH_SIZE)),
        comment("reply", parent=long_parent, thread=long_thread),
    ]
    report = run_import(site, records, source="disqus")
    assert report.comments_created == engine.BATCH_SIZE + 2 and report.broken_parents == 0
    parent = ImportedItem.objects.get(kind="comment", source_id__startswith="sha256:")
    reply = Comment.objects.get(pk=ImportedItem.objects.get(source_id="reply").target_id)
    assert reply.parent_id == parent.target_id
    again = run_import(site, records, source="disqus")
    assert again.comments_created == 0 and again.threads_existing == 1


def test_townhall_extras_names_voters_and_vote_times(site):
    ada = SourceAuthor(name="Ada", key="7", created=WHEN)
    voted = datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    records = [
        THREAD,
        comment(
            "a",
            author=ada,
            status="deleted",
            extra={"author_name": "", "voters": {"c:9": SourceAuthor(name="Bob", key="9")}},
            votes=(SourceVote("c:9", 1, voted), SourceVote("a:xyz", -1)),
        ),
    ]
    report = run_import(site, records, source="townhall")
    assert report.commenters_created == 2 and report.votes_created == 2
    placeholder = Comment.objects.get()
    assert placeholder.author_name == "" and placeholder.author.created == WHEN
    bob = Commenter.objects.get(display_name="Bob")
    votes = dict(Vote.objects.values_list("voter_key", "created"))
    assert votes[f"c:{bob.pk}"] == voted and "a:xyz" in votes
