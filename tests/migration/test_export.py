"""Townhall's own export (``townhall export``, docs/export-format.md) and its reader: a site
built by the real actions, exported, imported into the same slug afresh and exported again."""

from __future__ import annotations

import gzip
import io
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import TestCase

from tests.conftest import ARTICLE, ORIGIN
from tests.identity.conftest import HS_SECRET, hs_token
from townhall.discussions.actions import (
    do_delete_comment,
    do_edit_comment,
    do_post_comment,
    do_vote_comment,
)
from townhall.discussions.models import Comment, CommentStatus, Thread, Vote
from townhall.identity.actions import do_sign_in_sso
from townhall.identity.data import do_delete_commenter
from townhall.identity.models import Commenter
from townhall.migration.engine import run_import
from townhall.migration.export import SITE_SETTINGS, export_site, export_site_to_file
from townhall.migration.models import ImportedItem
from townhall.migration.records import (
    Problem,
    SourceAuthor,
    SourceComment,
    SourceError,
    SourceThread,
)
from townhall.migration.sources import reader
from townhall.moderation.actions import do_feature_comment, do_moderate_comment
from townhall.sites.actions import do_create_site, do_set_moderation_rules, do_set_sign_in
from townhall.sites.models import Site

OTHER = f"{ORIGIN}/2016/07/coup/"
CLOSED = f"{ORIGIN}/2016/06/closed/"
PASSAGE = {
    "quote": {
        "type": "TextQuoteSelector",
        "exact": "209 people killed",
        "prefix": "Turkey: ",
        "suffix": " in",
    },
    "position": {"type": "TextPositionSelector", "start": 8, "end": 25},
}
read = reader("townhall")


def _create_site(slug: str = "news") -> Site:
    site = do_create_site(
        slug=slug, name="News Example", origins=[ORIGIN], max_depth=2, new_commenter_burst=0
    )
    return do_set_sign_in(
        site, methods=["guest", "sso"], sso_algorithm="HS256", sso_secret=HS_SECRET
    )


@dataclass
class Built:
    site: Site
    ted: Commenter
    ada: Commenter


def _build(slug: str = "news") -> Built:
    """A site with every kind of thing the export holds, made as readers and moderators do."""
    site = _create_site(slug)
    moderator = get_user_model().objects.create_user("moderator")
    with TestCase.captureOnCommitCallbacks(execute=True):
        first = do_post_comment(
            site,
            url=ARTICLE,
            title="Turkey: 209 People Killed",
            body="Hear, *hear*. <script>alert(1)</script>",
            author_name="Ted Zah",
            author_email="ted@example.test",
        )
        ted = first.commenter
        ada = do_sign_in_sso(site, hs_token(site))
        reply = do_post_comment(
            site, url=ARTICLE, body="A reply, **bold**.", parent_id=first.comment.pk, commenter=ada
        )
        deeper = do_post_comment(
            site, url=ARTICLE, body="Deeper.", parent_id=reply.comment.pk, commenter=ted
        )
        # Past max_depth: shown beside its parent, still a reply to it.
        do_post_comment(
            site, url=ARTICLE, body="Deepest.", parent_id=deeper.comment.pk, commenter=ada
        )
        on_passage = do_post_comment(
            site, url=ARTICLE, body="About this.", passage=PASSAGE, commenter=ted
        )
        do_edit_comment(on_passage.comment, body="About this passage, edited.")
        do_vote_comment(first.comment, voter_key=f"c:{ada.pk}", value=1)
        do_vote_comment(first.comment, voter_key="a:0123456789abcdef", value=-1)
        do_vote_comment(reply.comment, voter_key=f"c:{ted.pk}", value=1)
        # A signed-in reader who only votes.
        bea = do_sign_in_sso(site, hs_token(site, sub="reader-43", name="Bea", email=None))
        do_vote_comment(reply.comment, voter_key=f"c:{bea.pk}", value=-1)
        do_feature_comment(moderator, first.comment)
        # A guest who gave another name since: the old comments keep the name they had.
        do_post_comment(site, url=OTHER, body="Renamed.", author_name="Ted Z.", commenter=ted)
        rejected = do_post_comment(site, url=OTHER, body="Rejected.", author_name="Rex")
        do_moderate_comment(moderator, rejected.comment, "reject")
        spam = do_post_comment(site, url=OTHER, body="Cheap pills.", author_name="Sam")
        do_moderate_comment(moderator, spam.comment, "spam")
        do_set_moderation_rules(site, suspect_words=["hold-me"])
        do_post_comment(site, url=OTHER, body="Please hold-me.", author_name="Pat")
        gone = do_post_comment(site, url=OTHER, body="Regretted.", author_name="Dee")
        do_post_comment(site, url=OTHER, body="Under a deleted one.", parent_id=gone.comment.pk)
        do_delete_comment(gone.comment)
        leaving = do_post_comment(site, url=CLOSED, body="I will leave.", author_name="Lee")
        do_delete_commenter(leaving.commenter)
        Thread.objects.filter(url=CLOSED).update(is_open=False)  # no action closes a thread yet
    # A comment brought from Disqus, on the existing thread and on a thread of its own.
    run_import(
        site,
        [
            SourceThread("8812", ARTICLE, title="Incirlik"),
            SourceThread("8813", f"{ORIGIN}/2015/old/", title="Old story"),
            SourceComment(
                "x2999",
                "8813",
                None,
                SourceAuthor("Old Reader", "old@example.test", key="oldreader"),
                datetime(2015, 3, 1, 12, 0, tzinfo=UTC),
                html="<p>From <b>Disqus</b></p>",
                upvotes=4,
            ),
        ],
        source="disqus",
    )
    return Built(site, ted, ada)


def _export(site: Site) -> bytes:
    out = io.BytesIO()
    export_site(site, out)
    return out.getvalue()


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def _import(site: Site, path: Path):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return run_import(site, read(path), source="townhall")


def _fresh(site: Site) -> Site:
    """The site deleted with everything in it, and created again with the same settings."""
    slug = site.slug
    # Replies protect the comments they answer: untie them so the site can go at once.
    Comment.objects.filter(thread__site=site).update(parent=None, nest_parent=None, root=None)
    site.delete()
    return _create_site(slug)


def _counts(site: Site) -> tuple[int, ...]:
    return (
        Thread.objects.filter(site=site).count(),
        Commenter.objects.filter(site=site).count(),
        Comment.objects.filter(thread__site=site).count(),
        Vote.objects.filter(comment__thread__site=site).count(),
        ImportedItem.objects.filter(site=site).count(),
    )


def test_the_export_holds_everything_to_rebuild_the_discussions(db):
    built = _build()
    data = _export(built.site)
    assert data.endswith(b"\n") and b"NaN" not in data
    for raw in data.splitlines():
        assert raw == orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)  # sorted
    header, *lines = _lines(data)
    assert header["format"] == "townhall-export" and header["version"] == 1
    assert set(header["site"]) == set(SITE_SETTINGS)
    assert header["site"]["slug"] == "news" and header["site"]["max_depth"] == 2
    assert header["site"]["signin_sso"] is True
    # No secret, in any form.
    assert HS_SECRET.encode() not in data
    for nonce in Commenter.objects.values_list("token_nonce", flat=True):
        assert nonce.encode() not in data
    assert [line["type"] for line in lines] == sorted(
        (line["type"] for line in lines), key=["thread", "commenter", "comment"].index
    )
    threads = {t["url"]: t for t in lines if t["type"] == "thread"}
    commenters = {c["id"]: c for c in lines if c["type"] == "commenter"}
    comments = [c for c in lines if c["type"] == "comment"]
    assert len(threads) == 4 and len(comments) == Comment.objects.count() == 13

    assert threads[ARTICLE]["title"] == "Turkey: 209 People Killed"
    assert threads[ARTICLE]["imported_from"] == [["disqus", "8812"]]
    assert threads[CLOSED]["is_open"] is False
    assert threads[ARTICLE]["created"].endswith("Z") and len(threads[ARTICLE]["created"]) == 27

    ada = commenters[str(built.ada.pk)]
    assert ada["kind"] == "sso" and ada["external_id"] == "reader-42"
    assert ada["email"] == "ada@example.test" and ada["email_confirmed"]
    assert ada["avatar"] == "https://news.example/avatars/ada.png"
    assert [c["name"] for c in commenters.values() if c["external_id"] == "reader-43"] == ["Bea"]
    ted = commenters[str(built.ted.pk)]
    assert (ted["kind"], ted["name"], ted["email"]) == ("guest", "Ted Z.", "ted@example.test")

    by_body = {c["body"]: c for c in comments}
    first = by_body["Hear, *hear*. <script>alert(1)</script>"]
    assert first["author"] == ted["id"] and first["author_name"] == "Ted Zah"
    assert first["featured"] is True and "<script>" not in first["html"]
    assert "<em>hear</em>" in first["html"]
    assert (first["upvotes"], first["downvotes"]) == (1, 1)
    assert first["votes"] == sorted(first["votes"], key=lambda vote: vote["voter_key"])
    assert {(v["voter_key"], v["value"]) for v in first["votes"]} == {
        (f"c:{ada['id']}", 1),
        ("a:0123456789abcdef", -1),
    }
    reply = by_body["A reply, **bold**."]
    assert reply["parent"] == first["id"] and reply["thread"] == threads[ARTICLE]["id"]
    assert by_body["Deepest."]["parent"] == by_body["Deeper."]["id"]
    edited = by_body["About this passage, edited."]
    assert edited["passage"] == PASSAGE and edited["edited"]
    assert {c["status"] for c in comments} == set(CommentStatus.values)
    placeholders = [c for c in comments if c["status"] == "deleted"]
    assert all(c["body"] == c["html"] == "" for c in placeholders)
    assert any(c["author"] is None for c in placeholders)  # the reader who left
    assert by_body["Under a deleted one."]["parent"] in {c["id"] for c in placeholders}
    disqus = by_body["From **Disqus**"]
    assert disqus["imported_from"] == [["disqus", "x2999"]] and disqus["upvotes"] == 4
    assert all(c["thread"] in {t["id"] for t in threads.values()} for c in comments)
    assert all(c["author"] in commenters for c in comments if c["author"] is not None)


def _round_trip(site: Site, path: Path) -> tuple[Site, bytes]:
    first = _export(site)
    path.write_bytes(first)
    site = _fresh(site)
    report = _import(site, path)
    assert report.problems == 0, report.lines()
    assert report.comments_created == 13
    return site, first


def test_export_import_export_is_byte_identical(db, tmp_path):
    built = _build()
    site, first = _round_trip(built.site, tmp_path / "news.jsonl")
    second = _export(site)
    assert second.splitlines() == first.splitlines()  # a readable diff first
    assert second == first
    # Votes are cast by the new commenters, including the reader who only voted.
    ada = Commenter.objects.get(site=site, external_id="reader-42")
    bea = Commenter.objects.get(site=site, external_id="reader-43")
    featured = Comment.objects.get(thread__site=site, featured=True)
    assert featured.votes.filter(voter_key=f"c:{ada.pk}", value=1).exists()
    assert Vote.objects.filter(voter_key=f"c:{bea.pk}", value=-1).exists()
    # Rows imported from an export keep the ids they came with, through a second round trip.
    site, _ = _round_trip(site, tmp_path / "again.jsonl")
    assert _export(site) == first


def test_a_signed_in_reader_already_on_the_new_site_keeps_the_file_s_id(db, tmp_path):
    built = _build()
    first = _export(built.site)
    path = tmp_path / "news.jsonl"
    path.write_bytes(first)
    site = _fresh(built.site)
    # Ada signed in on the new server before the old discussions were brought over.
    with TestCase.captureOnCommitCallbacks(execute=True):
        ada = do_sign_in_sso(site, hs_token(site))
    report = _import(site, path)
    assert report.problems == 0, report.lines()
    assert Commenter.objects.filter(site=site, external_id="reader-42").get() == ada

    def ada_in(data: bytes) -> str:
        [line] = [x for x in _lines(data) if x.get("external_id") == "reader-42"]
        return line["id"]

    # Her own sign-in time stays hers; the file's id for her is remembered.
    assert ada_in(_export(site)) == ada_in(first) != str(ada.pk)


def test_ids_stay_unique_when_an_imported_id_is_also_a_primary_key(db, tmp_path):
    site = _create_site()
    with TestCase.captureOnCommitCallbacks(execute=True):
        own = do_post_comment(site, url=ARTICLE, body="Written here.", author_name="Here")
    path = tmp_path / "other.jsonl"
    lines = [
        _header(site),
        {"type": "thread", "id": "t", "url": OTHER, "created": "2020-01-01T00:00:00.000000Z"},
        _comment(str(own.comment.pk), body="Brought here."),
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    _import(site, path)
    comments = [line for line in _lines(_export(site)) if line.get("type") == "comment"]
    ids = {line["body"]: line["id"] for line in comments}
    assert ids == {"Brought here.": str(own.comment.pk), "Written here.": f"news.{own.comment.pk}"}


def test_a_thread_from_two_exports_keeps_both_ids(db, tmp_path):
    site = _create_site()
    for thread_id, comment_id in (("t2", "c2"), ("t1", "c1")):
        path = tmp_path / f"{thread_id}.jsonl"
        lines = [
            _header(site),
            {"type": "thread", "id": thread_id, "url": ARTICLE},
            _comment(comment_id, thread=thread_id, body=f"From {thread_id}."),
        ]
        path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        _import(site, path)
    first = _export(site)
    thread = _lines(first)[1]
    assert (thread["id"], thread["imported_from"]) == ("t1", [["townhall", "t2"]])
    path = tmp_path / "both.jsonl"
    path.write_bytes(first)
    site = _fresh(site)
    _import(site, path)
    assert _lines(_export(site))[1] == thread


def test_importing_the_export_twice_creates_nothing_new(db, tmp_path):
    built = _build()
    path = tmp_path / "news.jsonl"
    path.write_bytes(_export(built.site))
    site = _fresh(built.site)
    _import(site, path)
    before = _counts(site)
    report = _import(site, path)
    assert _counts(site) == before
    assert report.comments_created == report.commenters_created == report.threads_created == 0
    assert report.comments_existing == 13
    # The Disqus ids came along: the old Disqus file finds its comment again.
    again = run_import(
        site,
        [
            SourceThread("8813", f"{ORIGIN}/2015/old/"),
            SourceComment(
                "x2999",
                "8813",
                None,
                SourceAuthor("Old Reader", "old@example.test", key="oldreader"),
                datetime(2015, 3, 1, 12, 0, tzinfo=UTC),
                html="<p>From <b>Disqus</b></p>",
            ),
        ],
        source="disqus",
    )
    assert again.comments_created == 0 and again.comments_existing == 1
    assert _counts(site) == before


def test_the_reader_yields_every_record_the_engine_needs(db, tmp_path):
    built = _build()
    path = tmp_path / "news.jsonl"
    path.write_bytes(_export(built.site))
    records = list(read(path))
    threads = [r for r in records if isinstance(r, SourceThread)]
    every = [r for r in records if isinstance(r, SourceComment)]
    assert len(threads) == 4 and len(every) == 13 and len(records) == 17  # no problems
    assert records.index(threads[-1]) < records.index(every[0])
    comments = {r.markdown: r for r in every}
    incirlik = next(t for t in threads if t.url == ARTICLE)
    assert (
        incirlik.aliases == (("disqus", "8812"),) and incirlik.title == "Turkey: 209 People Killed"
    )
    first = comments["Hear, *hear*. <script>alert(1)</script>"]
    assert first.featured and first.html is None and first.author.key == str(built.ted.pk)
    assert first.extra["author_name"] == "Ted Zah" and first.author.name == "Ted Z."
    assert first.author.created == built.ted.created
    ada_key = f"c:{built.ada.pk}"
    assert {(v.voter_key, v.value) for v in first.votes} == {
        (ada_key, 1),
        ("a:0123456789abcdef", -1),
    }
    voter = first.extra["voters"][ada_key]
    assert (voter.kind, voter.external_id, voter.key) == ("sso", "reader-42", str(built.ada.pk))
    assert voter.email_confirmed == built.ada.email_confirmed and voter.created == built.ada.created
    reply = comments["A reply, **bold**."]
    assert reply.parent_id == first.source_id and reply.author.kind == "sso"
    assert comments["About this passage, edited."].passage == PASSAGE
    assert {c.status for c in every} == set(CommentStatus.values)
    assert comments["From **Disqus**"].aliases == (("disqus", "x2999"),)


def test_the_import_renders_the_body_and_ignores_the_html(db, tmp_path):
    site = _create_site()
    path = tmp_path / "evil.jsonl"
    lines = [
        _header(site),
        {"type": "thread", "id": "t", "url": ARTICLE, "created": "2020-01-01T00:00:00.000000Z"},
        _comment("c1", body="*Fine*", html='<img src=x onerror="alert(1)">'),
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    _import(site, path)
    comment = Comment.objects.get(thread__site=site)
    assert comment.body_html == "<p><em>Fine</em></p>\n" or "onerror" not in comment.body_html
    assert "<em>Fine</em>" in comment.body_html and "onerror" not in comment.body_html


def _header(site: Site, **overrides: Any) -> dict[str, Any]:
    return {"format": "townhall-export", "version": 1, "site": {"slug": site.slug}, **overrides}


def _comment(source_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "comment",
        "id": source_id,
        "thread": "t",
        "author_name": "Guest",
        "body": "Hello.",
        "status": "visible",
        "created": "2020-01-02T00:00:00.000000Z",
        **fields,
    }


@pytest.mark.parametrize(
    "first_line, message",
    [
        (b"", "not a Townhall export"),
        (b"<?xml version='1.0'?>", "not a Townhall export"),
        (b'{"format": "disqus"}', "not a Townhall export"),
        (b'{"format": "townhall-export", "version": 2}', "version 2"),
    ],
)
def test_a_file_that_is_not_a_townhall_export_is_refused(tmp_path, first_line, message):
    path = tmp_path / "other.jsonl"
    path.write_bytes(first_line + b"\n" + orjson.dumps({"type": "thread"}) + b"\n")
    with pytest.raises(SourceError, match=message):
        list(read(path))
    with pytest.raises(SourceError, match="Cannot read"):
        list(read(tmp_path / "missing.jsonl"))


def test_a_damaged_gzip_file_is_refused(tmp_path):
    lines = [{"format": "townhall-export", "version": 1}, _comment("c1")]
    compressed = gzip.compress(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(SourceError, match="damaged gzip"):
        list(read(path))


def test_a_bad_line_is_a_problem_and_the_rest_is_imported(db, tmp_path):
    site = _create_site()
    path = tmp_path / "bad.jsonl"
    good = [
        {"type": "thread", "id": "t", "url": ARTICLE, "created": "2020-01-01T00:00:00.000000Z"},
        _comment("c1"),
        _comment("c2", parent="c1"),
    ]
    bad = [
        b"{not json",
        orjson.dumps(_comment("c3", status="shown")),
        orjson.dumps(_comment("c4", created="2020-01-02T00:00:00")),  # no zone
        orjson.dumps(_comment("c5", upvotes="3")),
        orjson.dumps({"type": "campaign", "id": "x"}),
    ]
    lines = [orjson.dumps(_header(site)), *(orjson.dumps(line) for line in good), *bad]
    path.write_bytes(b"\n".join(lines) + b"\n")
    records = list(read(path))
    problems = [record for record in records if isinstance(record, Problem)]
    assert [problem.where for problem in problems] == [
        "line 5",
        "line 6",
        "line 7",
        "line 8",
        "line 9",
    ]
    assert "status" in problems[1].message and "created" in problems[2].message
    report = _import(site, path)
    assert report.problems == 5 and report.comments_created == 2
    reply = Comment.objects.get(thread__site=site, parent__isnull=False)
    assert reply.parent.body == "Hello."


def test_gzip_output_and_input(db, tmp_path):
    built = _build()
    plain = _export(built.site)
    path = tmp_path / "news.jsonl.gz"
    out = io.StringIO()
    call_command("export", site="news", output=path, stdout=out)
    assert "13 comments" in out.getvalue()
    assert path.read_bytes()[:2] == b"\x1f\x8b" and gzip.decompress(path.read_bytes()) == plain
    # The same export, the same compressed bytes (no name nor time in the gzip header).
    again = tmp_path / "again.jsonl.gz"
    export_site_to_file(built.site, again)
    assert again.read_bytes() == path.read_bytes()
    # Told by its bytes, not its name.
    disguised = tmp_path / "news.jsonl"
    disguised.write_bytes(path.read_bytes())
    seen: list[int] = []
    records = list(read(disguised, on_bytes=seen.append))
    assert sum(seen) == disguised.stat().st_size
    assert sum(isinstance(record, SourceComment) for record in records) == 13
    site = _fresh(built.site)
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("import", disguised, site="news", format="townhall", stdout=out)
    assert "Comments: 13 created" in out.getvalue()
    assert _export(site) == plain
    # A file of another format, named as an export, is refused with the reader's message.
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_bytes(b"<?xml version='1.0'?><disqus/>\n")
    with pytest.raises(CommandError, match="not a Townhall export"):
        call_command("import", wrong, site="news", format="townhall", stdout=io.StringIO())


def test_the_command_writes_stdout_and_files_atomically(db, tmp_path):
    built = _build()
    out = io.StringIO()
    call_command("export", site="news", stdout=out)
    assert out.getvalue().encode() == _export(built.site)
    target = tmp_path / "news.jsonl"
    target.write_bytes(b"the old export\n")
    call_command("export", site="news", output=target, stdout=io.StringIO())
    assert target.read_bytes() == _export(built.site)
    assert [p.name for p in tmp_path.iterdir()] == ["news.jsonl"]  # no temporary file left
    with pytest.raises(Exception, match="no site 'nope'"):
        call_command("export", site="nope", stdout=io.StringIO())


def test_large_sites_are_exported_and_read_in_bounded_memory(db, tmp_path):
    site = _create_site()
    threads = Thread.objects.bulk_create(
        Thread(site=site, url_key=f"news.example/{n}/", url=f"{ORIGIN}/{n}/") for n in range(30)
    )
    commenters = Commenter.objects.bulk_create(
        Commenter(site=site, display_name=f"Reader {n}", email=f"r{n}@example.test")
        for n in range(300)
    )
    body = "A long comment. " * 150  # 2.4 kB, as much again in HTML
    start = datetime(2024, 1, 1, tzinfo=UTC)
    Comment.objects.bulk_create(
        Comment(
            thread=threads[n % 30],
            author=commenters[n % 300],
            author_name=f"Reader {n % 300}",
            body=f"{n} {body}",
            body_html=f"<p>{n} {body}</p>",
            created=start + timedelta(seconds=n),
        )
        for n in range(4000)
    )
    path = tmp_path / "big.jsonl"
    tracemalloc.start()
    try:
        export_site_to_file(site, path)
        _, export_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        comments = sum(isinstance(record, SourceComment) for record in read(path))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert comments == 4000 and size > 19_000_000
    # Chunks of rows, not the site: a fraction of the file.
    assert export_peak < size / 4, (export_peak, size)
    assert read_peak < size / 15, (read_peak, size)


@pytest.mark.django_db(transaction=True)
def test_the_command_reads_one_snapshot_outside_any_transaction(tmp_path):
    # Outside a test's transaction: on PostgreSQL the export opens its own, REPEATABLE READ.
    site = _create_site()
    do_post_comment(site, url=ARTICLE, body="Alone.", author_name="Solo")
    target = tmp_path / "news.jsonl"
    call_command("export", site="news", output=target, stdout=io.StringIO())
    _, thread, commenter, comment = _lines(target.read_bytes())
    assert (thread["type"], commenter["type"], comment["type"]) == (
        "thread",
        "commenter",
        "comment",
    )
    assert comment["body"] == "Alone." and comment["author"] == commenter["id"]
