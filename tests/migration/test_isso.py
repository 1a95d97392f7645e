"""The Isso reader, on a database the real Isso 0.14 wrote (data/isso.db, made by
data/make_isso_db.py through Isso's HTTP API), and end to end through the engine."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from townhall.discussions.models import Comment, CommentStatus, Thread
from townhall.migration.engine import run_import
from townhall.migration.models import ImportedItem, ImportedKind
from townhall.migration.records import (
    Problem,
    Skipped,
    SourceComment,
    SourceError,
    SourceThread,
)
from townhall.migration.sources import isso
from townhall.sites.actions import do_create_site
from townhall.sites.models import Site

ISSO_DB = Path(__file__).resolve().parent / "data" / "isso.db"


def read(path: Path = ISSO_DB) -> list:
    return list(isso.read(path))


def comments(records: list) -> dict[str, SourceComment]:
    return {r.source_id: r for r in records if isinstance(r, SourceComment)}


def test_threads():
    threads = [r for r in read() if isinstance(r, SourceThread)]
    assert threads == [
        SourceThread(source_id="1", url="/2014/test/", title="Hello, World"),
        SourceThread(source_id="2", url="/about/", title="About"),
    ]


def test_threads_come_before_their_comments():
    records = read()
    first_comment = next(i for i, r in enumerate(records) if not isinstance(r, SourceThread))
    assert all(isinstance(r, SourceThread) for r in records[:first_comment])
    assert not any(isinstance(r, SourceThread) for r in records[first_comment:])


def test_structure_statuses_and_votes():
    records = read()
    found = comments(records)
    # Comment 7 was deleted without replies: Isso removed it. Comment 5 was deleted after it
    # got a reply: Isso keeps it as an empty mode 4 placeholder, which is not a comment.
    assert [r for r in records if isinstance(r, Skipped)] == [Skipped("comment", "5", "deleted")]
    assert not [r for r in records if isinstance(r, Problem)]
    summary = {
        sid: (c.thread_id, c.parent_id, c.author.name, c.status, c.upvotes, c.downvotes)
        for sid, c in found.items()
    }
    assert summary == {
        "1": ("1", None, "Alice", "visible", 3, 1),
        "2": ("1", None, "Anonymous", "visible", 0, 0),  # no author given
        "3": ("1", "1", "Bob", "visible", 0, 0),
        # A reply to Bob's reply: Isso keeps two levels and stored it under Alice's comment.
        "4": ("1", "1", "Alice", "visible", 0, 0),
        "6": ("1", "5", "Dave", "visible", 0, 0),  # its parent is the deleted placeholder
        "8": ("2", None, "Frank", "visible", 0, 1),
        "9": ("2", None, "Grace", "pending", 0, 0),  # never activated by a moderator
    }
    alice = found["1"]
    assert alice.markdown == "First!\n\nA *second* paragraph, with a [link](http://example.org/)."
    assert alice.html is None
    assert alice.author.email == "alice@example.org"
    assert alice.extra == {"website": "http://alice.example.org/"}
    assert alice.created.tzinfo is not None
    assert alice.edited is None
    assert found["2"].author.email == ""
    created = [c.created for c in found.values()]
    assert created == sorted(created)


def test_progress_reports_the_file(tmp_path):
    seen: list[int] = []
    list(isso.read(ISSO_DB, on_bytes=seen.append))
    assert sum(seen) == ISSO_DB.stat().st_size


def test_opened_read_only(tmp_path):
    copy = tmp_path / "comments.db"
    shutil.copyfile(ISSO_DB, copy)
    before = copy.read_bytes()
    read(copy)
    assert copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comments.db"]  # no journal, no WAL


def test_escaped_fields_and_odd_rows(tmp_path):
    copy = tmp_path / "comments.db"
    shutil.copyfile(ISSO_DB, copy)
    with sqlite3.connect(copy) as db:
        db.execute(
            "UPDATE comments SET author = 'Ben &amp; Jerry', website = 'http://x.example/?a=1&amp;b=2'"
            " WHERE id = 8"
        )
        db.execute("UPDATE comments SET mode = 8 WHERE id = 2")
    db.close()
    records = read(copy)
    found = comments(records)
    assert found["8"].author.name == "Ben & Jerry"
    assert found["8"].extra == {"website": "http://x.example/?a=1&b=2"}
    assert "2" not in found
    assert [p.where for p in records if isinstance(p, Problem)] == ["comment 2"]


@pytest.mark.parametrize(
    "make",
    [
        lambda path: path.write_bytes(b"SQLite format 3\x00 but not really"),
        lambda path: path.write_text("<disqus></disqus>"),
        lambda path: sqlite3.connect(path).execute("CREATE TABLE threads (id, uri, title)"),
        lambda path: sqlite3.connect(path).execute("CREATE TABLE other (x)"),
    ],
)
def test_not_an_isso_database(tmp_path, make):
    path = tmp_path / "comments.db"
    handle = make(path)
    if isinstance(handle, sqlite3.Cursor):
        handle.connection.commit()
        handle.connection.close()
    with pytest.raises(SourceError):
        read(path)


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        read(tmp_path / "nope.db")


# ---- end to end -------------------------------------------------------------------------


@pytest.fixture
def site(db) -> Site:
    return do_create_site(slug="blog", name="Blog", origins=["http://example.tld"], max_depth=3)


def _by_source(site: Site, source_id: str) -> Comment:
    target = ImportedItem.objects.get(
        site=site, source="isso", kind=ImportedKind.COMMENT, source_id=source_id
    ).target_id
    return Comment.objects.get(pk=target)


def test_import(site):
    report = run_import(site, isso.read(ISSO_DB), source="isso", base_url="http://example.tld")
    assert (report.threads_created, report.comments_created) == (2, 7)
    assert report.skipped == {"deleted": 1}
    # The reply to the deleted placeholder is kept, at the top level.
    assert report.broken_parents == 1
    assert report.broken_parent_ids == ["6"]
    assert sorted(Thread.objects.filter(site=site).values_list("url", flat=True)) == [
        "http://example.tld/2014/test/",
        "http://example.tld/about/",
    ]
    alice = _by_source(site, "1")
    assert (alice.upvotes, alice.downvotes, alice.score) == (3, 1, 2)
    assert "<em>second</em>" in alice.body_html
    assert _by_source(site, "3").parent == alice
    assert _by_source(site, "4").parent == alice
    assert _by_source(site, "6").parent is None
    assert _by_source(site, "9").status == CommentStatus.PENDING
    assert _by_source(site, "2").author_name == "Anonymous"
    again = run_import(site, isso.read(ISSO_DB), source="isso", base_url="http://example.tld")
    assert (again.comments_created, again.comments_existing) == (0, 7)


def test_import_needs_a_base_url_for_paths(db):
    site = do_create_site(slug="paths", name="Paths", origins=[], max_depth=3)
    report = run_import(site, isso.read(ISSO_DB), source="isso")
    assert report.threads_created == 0
    assert report.problems >= 2


def test_large_database_reports_progress_as_it_goes(tmp_path):
    copy = tmp_path / "comments.db"
    shutil.copyfile(ISSO_DB, copy)
    with sqlite3.connect(copy) as db:
        db.executemany(
            "INSERT INTO comments (tid, parent, created, mode, text, author, voters) "
            "VALUES (2, NULL, 1700000000.5, 1, ?, 'Bulk', x'00')",
            [(f"Comment {n}",) for n in range(2500)],
        )
    db.close()
    seen: list[int] = []
    records = isso.read(copy, on_bytes=seen.append)
    count = sum(1 for record in records if isinstance(record, SourceComment))
    assert count == 7 + 2500
    assert len(seen) == 3  # after 1000 and 2000 rows, then the rest
    assert sum(seen) == copy.stat().st_size
