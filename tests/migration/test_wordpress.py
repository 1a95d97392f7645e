"""The WordPress (WXR) reader: the real sample of ../shared/import-samples as it is, a wpDiscuz
export (data/wpdiscuz.xml, see data/README.md), and end to end through the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.migration.conftest import SAMPLES
from townhall.discussions.anchoring import Anchor, locate
from townhall.discussions.models import Comment, CommentStatus, Thread
from townhall.discussions.schemas import Passage
from townhall.migration.engine import run_import
from townhall.migration.models import ImportedItem, ImportedKind
from townhall.migration.records import (
    Problem,
    Skipped,
    SourceComment,
    SourceError,
    SourceThread,
)
from townhall.migration.sources import wordpress
from townhall.migration.sources.wordpress.autop import autop
from townhall.migration.sources.wordpress.wpdiscuz import PHPSerializeError, unserialize
from townhall.sites.actions import do_create_site
from townhall.sites.models import Site

DATA = Path(__file__).resolve().parent / "data"
WPDISCUZ = DATA / "wpdiscuz.xml"


@pytest.fixture
def isso_wordpress() -> Path:
    path = SAMPLES / "isso-wordpress.xml"
    if not path.is_file():
        pytest.skip(f"The real WordPress sample is not here: {path} (set TOWNHALL_IMPORT_SAMPLES)")
    return path


def read(path: Path) -> list:
    return list(wordpress.read(path))


def comments(records: list) -> dict[str, SourceComment]:
    return {r.source_id: r for r in records if isinstance(r, SourceComment)}


def wxr(items: str, namespace: str = "http://wordpress.org/export/1.2/") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        f'xmlns:wp="{namespace}"><channel><title>Blog</title>{items}</channel></rss>'
    ).encode()


def item(post_id: int, comments_xml: str, **fields: str) -> str:
    values = {
        "title": "A post",
        "link": f"https://blog.example/?p={post_id}",
        "comment_status": "open",
        "status": "publish",
        "post_type": "post",
        **fields,
    }
    return (
        f"<item><title>{values['title']}</title><link>{values['link']}</link>"
        f"<content:encoded><![CDATA[{values.get('content', '')}]]></content:encoded>"
        f"<wp:post_id>{post_id}</wp:post_id>"
        f"<wp:post_date_gmt>2024-01-01 10:00:00</wp:post_date_gmt>"
        f"<wp:comment_status>{values['comment_status']}</wp:comment_status>"
        f"<wp:status>{values['status']}</wp:status>"
        f"<wp:post_type>{values['post_type']}</wp:post_type>{comments_xml}</item>"
    )


def comment(comment_id: int, *, parent: int = 0, meta: dict[str, str] | None = None, **f: str):
    values = {
        "author": "Reader",
        "email": "reader@example.org",
        "date_gmt": "2024-01-02 10:00:00",
        "content": "Hello.",
        "approved": "1",
        "type": "comment",
        **f,
    }
    metas = "".join(
        f"<wp:commentmeta><wp:meta_key><![CDATA[{k}]]></wp:meta_key>"
        f"<wp:meta_value><![CDATA[{v}]]></wp:meta_value></wp:commentmeta>"
        for k, v in (meta or {}).items()
    )
    return (
        f"<wp:comment><wp:comment_id>{comment_id}</wp:comment_id>"
        f"<wp:comment_author><![CDATA[{values['author']}]]></wp:comment_author>"
        f"<wp:comment_author_email>{values['email']}</wp:comment_author_email>"
        f"<wp:comment_date_gmt>{values['date_gmt']}</wp:comment_date_gmt>"
        f"<wp:comment_content><![CDATA[{values['content']}]]></wp:comment_content>"
        f"<wp:comment_approved>{values['approved']}</wp:comment_approved>"
        f"<wp:comment_type>{values['type']}</wp:comment_type>"
        f"<wp:comment_parent>{parent}</wp:comment_parent>{metas}</wp:comment>"
    )


# ---- the real sample (isso/tests/wordpress.xml) --------------------------------------------


def test_sample_threads(isso_wordpress):
    threads = [r for r in read(isso_wordpress) if isinstance(r, SourceThread)]
    # The third item ("No comments", open, no wp: fields) has nothing to import.
    assert threads == [
        SourceThread(
            source_id="18",
            url="http://example.tld/2014/test/",
            title="Hello, World…",
            is_open=True,
            created=datetime(2014, 1, 14, 17, 31, 3, tzinfo=UTC),
        ),
        SourceThread(
            source_id="http://example.tld/?p=4",
            url="http://example.tld/?p=4",
            title="...",
            is_open=True,
            created=None,
        ),
    ]


def test_sample_comments(isso_wordpress):
    records = read(isso_wordpress)
    assert not [r for r in records if isinstance(r, Skipped | Problem)]
    found = comments(records)
    assert list(found) == [
        "18/2",
        "18/6",
        "18/7",
        "18/8",
        "18/9",
        "18/10",
        "18/11",
        "http://example.tld/?p=4/11",  # the same comment id in another post: both imported
    ]
    first = found["18/2"]
    assert first.thread_id == "18"
    assert first.parent_id is None
    assert first.author.name == "Ohai"
    assert first.author.email == "test@example.org"  # the export's trailing newline is gone
    assert first.author.key == ""  # comment_user_id 0: a guest
    assert first.extra == {"website": "http://example.tld/"}
    assert first.created == datetime(2014, 1, 14, 17, 32, 12, tzinfo=UTC)
    assert first.html == "<p>Erster!1</p>"  # the CDATA's leading whitespace is not text
    assert first.markdown is None
    assert first.status == "visible"
    # Parents: 7 → 6, 8 and 9 → 7.
    assert {sid: c.parent_id for sid, c in found.items()} == {
        "18/2": None,
        "18/6": None,
        "18/7": "18/6",
        "18/8": "18/7",
        "18/9": "18/7",
        "18/10": None,
        "18/11": None,
        "http://example.tld/?p=4/11": None,
    }
    assert {c.author.email for c in found.values()} == {
        "test@example.org",
        "info@posativ.org",
        "multiline@example.org",
    }
    assert found["18/6"].author.key == "wp-user:1"
    assert found["18/7"].author.key == ""  # no comment_user_id at all
    # No comment_date, only comment_date_gmt.
    assert found["18/7"].created == datetime(2014, 4, 29, 15, 21, 35, tzinfo=UTC)
    assert found["18/7"].html == "<p>Drölfter!</p>"
    # comment_date_gmt wins over the local comment_date (12:13:14 there).
    assert found["18/10"].created == datetime(2022, 6, 6, 2, 13, 14, tzinfo=UTC)
    assert found["18/10"].html == (
        "<p>When you have a comment with multiple lines:<br />\nWordPress exports it like this.</p>"
    )
    assert found["18/11"].author.name == "Letzter :/"
    other = found["http://example.tld/?p=4/11"]
    assert other.thread_id == "http://example.tld/?p=4"
    assert other.author.name == "Anonymous"
    assert other.created == datetime(2014, 4, 29, 15, 21, 57, tzinfo=UTC)


def test_sample_progress_counts_every_byte(isso_wordpress):
    seen: list[int] = []
    read_all = list(wordpress.read(isso_wordpress, on_bytes=seen.append))
    assert read_all
    assert sum(seen) == isso_wordpress.stat().st_size


# ---- wpDiscuz ---------------------------------------------------------------------------

# The plain text of post 21 (HTML stripped, entities decoded, feedback shortcodes unwrapped).
POST_21 = (
    "The council voted 31 to 12 on Thursday night. From 2026, private cars will no longer "
    "enter the old town & the market square.\n\nShops on Bridge Street are worried. Delivery "
    "vans keep a morning window until 10am.\n\nThe plan goes to consultation in May."
)
POST_25 = "\nRoute 4 will run every ten minutes. The last bus leaves the station at 23:40.\n"


def test_wpdiscuz_threads():
    records = read(WPDISCUZ)
    threads = {r.source_id: r for r in records if isinstance(r, SourceThread)}
    # The About page (no comments, open) and the attachment are left out; post 30 is in the
    # trash; the obituary has no comments but its discussion is closed, which must stay so.
    assert list(threads) == ["21", "25", "33", "40"]
    assert threads["21"] == SourceThread(
        source_id="21",
        url="https://courier.example.com/2024/03/car-free-centre/",
        title="Council votes for a car-free centre",
        is_open=True,
        created=datetime(2024, 3, 15, 8, 30, tzinfo=UTC),
    )
    assert threads["25"].url == "https://courier.example.com/?p=25"
    assert threads["33"].is_open is False
    assert threads["33"].title == "Obituary: Hanne Vik"


def test_wpdiscuz_skipped_and_problems():
    records = read(WPDISCUZ)
    skipped = [r for r in records if isinstance(r, Skipped)]
    assert skipped == [
        Skipped("comment", "21/106", "spam"),
        Skipped("comment", "21/107", "trash"),
        Skipped("comment", "21/108", "pingback"),
        Skipped("thread", "30", "trash"),
        Skipped("comment", "30/130", "trash"),
    ]
    problems = [r for r in records if isinstance(r, Problem)]
    assert len(problems) == 1
    assert problems[0].where == "comment 40/140"
    assert "cannot be matched to one of the post's 2 passages" in problems[0].message


def test_wpdiscuz_comments_statuses_and_votes():
    found = comments(read(WPDISCUZ))
    assert list(found) == [
        "21/101",
        "21/102",
        "21/103",
        "21/104",
        "21/105",
        "21/109",
        "25/120",
        "40/140",
    ]
    summary = {sid: (c.parent_id, c.status, c.upvotes, c.downvotes) for sid, c in found.items()}
    assert summary == {
        "21/101": (None, "visible", 5, 2),  # wpdiscuz_votes_seperate (net 3 agrees)
        "21/102": ("21/101", "visible", 0, 1),  # only the net score: -1
        "21/103": ("21/102", "visible", 0, 0),  # a reply to a reply
        "21/104": (None, "visible", 1, 0),
        "21/105": (None, "pending", 0, 0),  # comment_approved 0
        "21/109": ("21/99", "visible", 0, 0),  # 99 is not in the file: the engine's to report
        "25/120": (None, "visible", 0, 4),
        "40/140": (None, "visible", 0, 0),
    }
    first = found["21/101"]
    assert first.html == (
        "<p>About time.<br />\nMy street has been a car park for twenty years.</p>\n"
        "<p>The buses need to run later, though.</p>"
    )
    assert first.author.name == "Jonas Berg"
    assert first.created == datetime(2024, 3, 15, 9, 2, 41, tzinfo=UTC)
    assert found["21/102"].author.key == "wp-user:1"
    assert found["21/102"].html == "<p>The night buses are part of the <em>second</em> phase.</p>"
    assert found["21/104"].author.name == "Ines Sørensen"


def test_wpdiscuz_passages_exactly():
    found = comments(read(WPDISCUZ))
    # Form ids 3 and 4 are the post's two shortcodes, in order.
    assert found["21/104"].passage == {
        "id": "k7v2m9x4qa",
        "quote": {
            "type": "TextQuoteSelector",
            "exact": "From 2026, private cars will no longer enter the old town & the market "
            "square.",
            "prefix": "ted 31 to 12 on Thursday night. ",
            "suffix": "\n\nShops on Bridge Street are wor",
        },
        "position": {"type": "TextPositionSelector", "start": 46, "end": 124},
        "question": "Should the centre be car-free?",
    }
    assert found["21/105"].passage == {
        "id": "p3n8c1z6wd",
        "quote": {
            "type": "TextQuoteSelector",
            "exact": "Delivery vans keep a morning window until 10am.",  # <strong> stripped
            "prefix": "s on Bridge Street are worried. ",
            "suffix": "\n\nThe plan goes to consultation ",
        },
        "position": {"type": "TextPositionSelector", "start": 162, "end": 209},
        "question": "Will the shops survive?",
    }
    # The post's only shortcode (single-quoted attributes, inside a Gutenberg paragraph).
    assert found["25/120"].passage == {
        "id": "t5r1q8w2ey",
        "quote": {
            "type": "TextQuoteSelector",
            "exact": "The last bus leaves the station at 23:40.",
            "prefix": "e 4 will run every ten minutes. ",
            "suffix": "\n",
        },
        "position": {"type": "TextPositionSelector", "start": 37, "end": 78},
        "question": "Is every ten minutes enough?",
    }
    # Two shortcodes, one form named: which one cannot be known.
    assert found["40/140"].passage is None
    for sid, text in (("21/104", POST_21), ("21/105", POST_21), ("25/120", POST_25)):
        passage = found[sid].passage
        start, end = passage["position"]["start"], passage["position"]["end"]
        assert text[start:end] == passage["quote"]["exact"]
        # Townhall's own shape: the API's schema takes it, re-anchoring finds it in place.
        Passage.model_validate(passage)
        match = locate(text, Anchor.from_json(passage))
        assert match is not None
        assert (match.method, match.start, match.end) == ("position", start, end)


def test_feedback_form_named_by_its_shortcode_id(tmp_path):
    content = (
        '[wpdiscuz-feedback id="one" question="Q1?"]First passage.[/wpdiscuz-feedback] '
        "[wpdiscuz-feedback id=two question='Q2?']Second.[/wpdiscuz-feedback] "
        '[[wpdiscuz-feedback id="lit"]Shown as is.[/wpdiscuz-feedback]]'
    )
    path = tmp_path / "feedback.xml"
    path.write_bytes(
        wxr(
            item(
                7,
                comment(1, meta={"wpdiscuz_feedback_form_id": "two"})
                + comment(2, parent=1, meta={"wpdiscuz_feedback_form_id": "one"}),
                content=content,
            )
        )
    )
    found = comments(read(path))
    passage = found["7/1"].passage
    assert passage["quote"]["exact"] == "Second."
    assert passage["quote"]["prefix"] == "First passage. "
    assert passage["quote"]["suffix"] == ' [[wpdiscuz-feedback id="lit"]Sh'  # 32 characters
    assert passage["position"] == {"type": "TextPositionSelector", "start": 15, "end": 22}
    assert passage["id"] == "two"
    assert passage["question"] == "Q2?"
    # A reply follows its thread: Townhall keeps passages on top-level comments only.
    assert found["7/2"].passage is None


def test_votes_meta_unreadable(tmp_path):
    path = tmp_path / "votes.xml"
    path.write_bytes(
        wxr(
            item(
                3,
                comment(
                    1,
                    meta={"wpdiscuz_votes_seperate": 'O:8:"stdClass":0:{}', "wpdiscuz_votes": "-2"},
                )
                + comment(2, meta={"wpdiscuz_votes": "lots"})
                + comment(3, meta={"wpdiscuz_votes_seperate": 'a:1:{s:4:"like";i:7;}'}),
            )
        )
    )
    records = read(path)
    found = comments(records)
    assert (found["3/1"].upvotes, found["3/1"].downvotes) == (0, 2)  # the net score instead
    assert (found["3/2"].upvotes, found["3/2"].downvotes) == (0, 0)
    assert (found["3/3"].upvotes, found["3/3"].downvotes) == (7, 0)
    problems = [r for r in records if isinstance(r, Problem)]
    assert [p.where for p in problems] == ["comment 3/1", "comment 3/2"]


# ---- the rest of WXR --------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_every_wxr_version(tmp_path, version):
    path = tmp_path / "export.xml"
    path.write_bytes(wxr(item(5, comment(9)), f"http://wordpress.org/export/{version}/"))
    assert list(comments(read(path))) == ["5/9"]


def test_statuses_and_types(tmp_path):
    path = tmp_path / "export.xml"
    path.write_bytes(
        wxr(
            item(
                1,
                comment(1, approved="0")
                + comment(2, approved="spam")
                + comment(3, approved="trash")
                + comment(4, approved="post-trashed")
                + comment(5, type="trackback")
                + comment(6, type="order_note")
                + comment(7, type="")
                + comment(8, date_gmt="0000-00-00 00:00:00"),
            )
            + item(2, "", comment_status="closed", post_type="nav_menu_item")
            + item(3, "", comment_status="closed", status="draft"),
        )
    )
    records = read(path)
    assert [(type(r).__name__, getattr(r, "source_id", "")) for r in records] == [
        ("SourceThread", "1"),
        ("SourceComment", "1/1"),
        ("Skipped", "1/2"),
        ("Skipped", "1/3"),
        ("Skipped", "1/4"),
        ("Skipped", "1/5"),
        ("Skipped", "1/6"),
        ("SourceComment", "1/7"),
        ("Problem", ""),
    ]
    assert comments(records)["1/1"].status == "pending"
    assert [r.reason for r in records if isinstance(r, Skipped)] == [
        "spam",
        "trash",
        "trash",
        "pingback",
        "not-a-comment",
    ]


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("", ""),
        ("One line.", "<p>One line.</p>"),
        ("\n   Padded.  \n", "<p>Padded.</p>"),
        ("a\nb", "<p>a<br />\nb</p>"),
        ("a\r\nb\r\n\r\nc", "<p>a<br />\nb</p>\n<p>c</p>"),
        ("a\n\n\n\nb", "<p>a</p>\n<p>b</p>"),
        ("<blockquote>q</blockquote>\n\nafter", "<blockquote>q</blockquote>\n<p>after</p>"),
        ("<pre>x\n\ny</pre>", "<pre>x\n\ny</pre>"),
        ("<strong>bold</strong> start", "<p><strong>bold</strong> start</p>"),
    ],
)
def test_autop(text, html):
    assert autop(text) == html


def test_unserialize():
    assert unserialize('a:2:{s:4:"like";i:5;s:7:"dislike";i:2;}') == {"like": 5, "dislike": 2}
    assert unserialize('s:3:"é!";') == "é!"  # lengths count bytes
    assert unserialize("a:2:{i:0;b:1;i:1;N;}") == {0: True, 1: None}
    for bad in (
        'O:8:"stdClass":0:{}',
        'a:2:{s:4:"like";i:5;}',
        's:9:"short";',
        "i:1;trailing",
        "a:1:{a:0:{}i:1;}",
        "",
    ):
        with pytest.raises(PHPSerializeError):
            unserialize(bad)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"just text",
        b"<html><body>not a feed</body></html>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>x</title></item>'
        b"</channel></rss>",  # a plain RSS feed
        b'{"json": true}',
    ],
)
def test_not_a_wordpress_export(tmp_path, content):
    path = tmp_path / "export.xml"
    path.write_bytes(content)
    with pytest.raises(SourceError):
        read(path)


def test_another_format_is_refused(tmp_path):
    if not (SAMPLES / "isso-disqus.xml").is_file():
        pytest.skip(f"The real samples are not here: {SAMPLES}")
    with pytest.raises(SourceError, match="not a WordPress export"):
        read(SAMPLES / "isso-disqus.xml")
    with pytest.raises(SourceError, match="no such file"):
        read(tmp_path / "missing.xml")


def test_truncated_file_reads_what_is_there(tmp_path):
    data = WPDISCUZ.read_bytes()
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: data.index(b"<wp:comment_id>120")])
    records = read(path)
    assert "21/109" in comments(records)
    assert isinstance(records[-1], Problem)
    assert "broken XML" in records[-1].message


def test_items_are_dropped_as_they_are_read(tmp_path):
    """Bounded memory: every item read is cleared and unlinked, so the tree stays tiny."""
    path = tmp_path / "big.xml"
    body = "".join(item(n, comment(1, content="x" * 200) * 3) for n in range(1, 2001))
    path.write_bytes(wxr(body))
    stream = wordpress.read(path)
    seen = 0
    for record in stream:
        if isinstance(record, SourceThread):
            seen += 1
    assert seen == 2000
    # The parser's root is gone with the generator; check the shape of a partial read instead.
    partial = wordpress.read(path)
    for record in partial:
        if isinstance(record, SourceThread) and record.source_id == "1500":
            frame = partial.gi_frame
            channel = frame.f_locals["element"].getparent()
            assert len(channel) <= 3  # <title>, the item being read and nothing more
            break
    partial.close()


# ---- end to end -------------------------------------------------------------------------


@pytest.fixture
def site(db) -> Site:
    return do_create_site(
        slug="courier",
        name="Courier",
        origins=["http://example.tld", "https://courier.example.com"],
        max_depth=3,
    )


def _by_source(site: Site, source_id: str) -> Comment:
    target = ImportedItem.objects.get(
        site=site, source="wordpress", kind=ImportedKind.COMMENT, source_id=source_id
    ).target_id
    return Comment.objects.get(pk=target)


def test_import_sample(site, isso_wordpress):
    report = run_import(site, wordpress.read(isso_wordpress), source="wordpress")
    assert (report.threads_created, report.comments_created) == (2, 8)
    assert report.skipped == {}
    assert report.broken_parents == 0
    threads = {t.url: t for t in Thread.objects.filter(site=site)}
    assert set(threads) == {"http://example.tld/2014/test/", "http://example.tld/?p=4"}
    assert threads["http://example.tld/2014/test/"].title == "Hello, World…"
    assert _by_source(site, "18/7").parent == _by_source(site, "18/6")
    assert _by_source(site, "18/8").parent == _by_source(site, "18/7")
    assert _by_source(site, "18/9").parent == _by_source(site, "18/7")
    multiline = _by_source(site, "18/10")
    # wpautop's line break survives as a Markdown hard break.
    assert multiline.body == (
        "When you have a comment with multiple lines:  \nWordPress exports it like this."
    )
    assert multiline.body_html == (
        "<p>When you have a comment with multiple lines:<br>\nWordPress exports it like this.</p>"
    )
    # Comment id 11 in both posts: two comments, one in each thread.
    eleven = _by_source(site, "18/11")
    other_eleven = _by_source(site, "http://example.tld/?p=4/11")
    assert eleven.pk != other_eleven.pk
    assert eleven.thread == threads["http://example.tld/2014/test/"]
    assert other_eleven.thread == threads["http://example.tld/?p=4"]
    assert (eleven.author_name, other_eleven.author_name) == ("Letzter :/", "Anonymous")
    again = run_import(site, wordpress.read(isso_wordpress), source="wordpress")
    assert (again.comments_created, again.comments_existing) == (0, 8)


def test_import_wpdiscuz(site):
    report = run_import(site, wordpress.read(WPDISCUZ), source="wordpress")
    assert report.threads_created == 4
    assert report.comments_created == 8
    assert report.skipped == {"pingback": 1, "spam": 1, "trash": 3}
    assert report.broken_parents == 1
    assert report.broken_parent_ids == ["21/109"]
    assert [p.where for p in report.problem_list] == ["comment 40/140"]
    closed = Thread.objects.get(site=site, url="https://courier.example.com/2024/03/hanne-vik/")
    assert closed.is_open is False
    first = _by_source(site, "21/101")
    assert (first.upvotes, first.downvotes, first.score) == (5, 2, 3)
    assert _by_source(site, "21/103").parent == _by_source(site, "21/102")
    assert _by_source(site, "21/105").status == CommentStatus.PENDING
    orphan = _by_source(site, "21/109")
    assert orphan.parent is None
    on_passage = _by_source(site, "21/104")
    assert on_passage.passage == comments(read(WPDISCUZ))["21/104"].passage
    assert on_passage.passage["quote"]["exact"].startswith("From 2026")
