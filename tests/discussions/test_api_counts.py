"""Comment counts for listing pages: GET /api/v1/counts?site=…&url=…&url=…"""

from __future__ import annotations

import pytest

from tests.conftest import ARTICLE, ORIGIN
from townhall.discussions.models import Comment

pytestmark = pytest.mark.django_db

COUNTS = "/api/v1/counts"
SECOND = f"{ORIGIN}/2016/07/coup/"
UNKNOWN = f"{ORIGIN}/never-commented/"


def counts(api, site_slug: str, urls: list[str]):
    return api.get(COUNTS, site=site_slug, url=urls)


@pytest.fixture
def commented(api, site):
    for n in range(3):
        assert api.comment(site, f"On the first {n}").status_code == 201
    assert api.comment(site, "On the second", url=SECOND).status_code == 201


def test_counts_per_url_as_given(api, site, commented):
    response = counts(api, site.slug, [ARTICLE, SECOND, UNKNOWN])
    assert response.status_code == 200
    assert response.json() == {"counts": {ARTICLE: 3, SECOND: 1, UNKNOWN: 0}}


def test_replies_are_counted(api, site, commented):
    root = Comment.objects.filter(thread__url=SECOND).get()
    api.comment(site, "A reply", url=SECOND, parent_id=root.pk)
    assert counts(api, site.slug, [SECOND]).json()["counts"] == {SECOND: 2}


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "javascript:alert(1)",
        "ftp://news.example/a",
        "/relative/path",
        "",
        "https://elsewhere.example/2016/07/incirlik/",
    ],
)
def test_malformed_or_foreign_urls_count_zero(api, site, commented, url):
    response = counts(api, site.slug, [url, ARTICLE])
    assert response.status_code == 200
    assert response.json()["counts"] == {url: 0, ARTICLE: 3}


@pytest.mark.parametrize(
    "variant",
    [
        ARTICLE + "?utm_source=newsletter&utm_medium=email",
        ARTICLE + "#comments",
        ARTICLE.replace("https://news.example", "https://NEWS.example:443"),
        ARTICLE.replace("https:", "http:"),
        ARTICLE + "?fbclid=abc#top",
    ],
)
def test_url_variants_count_the_same_thread_and_are_echoed_as_given(api, site, commented, variant):
    response = counts(api, site.slug, [variant, ARTICLE])
    assert response.json()["counts"] == {variant: 3, ARTICLE: 3}


def test_comment_posted_under_a_variant_counts_for_the_plain_url(api, site):
    api.comment(site, "Via a tracking link", url=ARTICLE + "?utm_source=x#c")
    assert counts(api, site.slug, [ARTICLE]).json()["counts"] == {ARTICLE: 1}


def test_pending_comments_are_not_counted(api, make_site):
    site = make_site(moderation_mode="pre")
    assert api.comment(site, "Waiting").status_code == 202
    assert counts(api, site.slug, [ARTICLE]).json()["counts"] == {ARTICLE: 0}


def test_hidden_and_deleted_comments_are_not_counted(api, site):
    kept = api.comment(site, "Kept").json()
    deleted = api.comment(site, "Deleted").json()
    api.delete(f"/api/v1/comments/{deleted['comment']['id']}", token=deleted["edit_token"])
    assert counts(api, site.slug, [ARTICLE]).json()["counts"] == {ARTICLE: 1}
    assert kept["comment"]["status"] == "visible"


def test_counts_are_per_site(api, site, make_site, commented):
    other = make_site(slug="other")
    api.comment(other, "Same article, other site")
    assert counts(api, site.slug, [ARTICLE]).json()["counts"] == {ARTICLE: 3}
    assert counts(api, other.slug, [ARTICLE]).json()["counts"] == {ARTICLE: 1}


def test_repeated_url_appears_once(api, site, commented):
    response = counts(api, site.slug, [ARTICLE, ARTICLE])
    assert response.json()["counts"] == {ARTICLE: 3}


def test_counts_follow_new_comments(api, site, commented):
    assert counts(api, site.slug, [ARTICLE]).json()["counts"] == {ARTICLE: 3}
    api.comment(site, "One more")
    assert counts(api, site.slug, [ARTICLE]).json()["counts"] == {ARTICLE: 4}


def test_up_to_100_urls(api, site, commented):
    urls = [ARTICLE] + [f"{ORIGIN}/article/{n}/" for n in range(99)]
    response = counts(api, site.slug, urls)
    assert response.status_code == 200
    body = response.json()["counts"]
    assert len(body) == 100
    assert body[ARTICLE] == 3
    assert sum(body.values()) == 3


def test_more_than_100_urls_is_a_422(api, site):
    urls = [f"{ORIGIN}/article/{n}/" for n in range(101)]
    response = counts(api, site.slug, urls)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_unknown_site_is_a_404(api, site):
    response = counts(api, "nope", [ARTICLE])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_site"


@pytest.mark.parametrize("params", [{"site": "news"}, {"url": ARTICLE}, {}])
def test_missing_parameters_are_a_422(api, site, params):
    response = api.get(COUNTS, **params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
