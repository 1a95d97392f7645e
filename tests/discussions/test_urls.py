"""Article URLs and origins: what finds the same thread, and what is refused."""

from __future__ import annotations

import re

import pytest

from townhall.discussions.urls import (
    MAX_URL_CHARS,
    InvalidArticleUrl,
    canonical_url_key,
    split_article_url,
)
from townhall.sites.origins import InvalidOrigin, normalize_origin


def key(url: str) -> str:
    return canonical_url_key(split_article_url(url)[1])


# split_article_url


def test_plain_url_splits_into_origin_and_canonical_url():
    assert split_article_url("https://news.example/2016/07/incirlik/") == (
        "https://news.example",
        "https://news.example/2016/07/incirlik/",
    )


@pytest.mark.parametrize(
    "param",
    [
        "utm_source=x",
        "UTM_Medium=y",
        "utm_campaign=",
        "mc_cid=1",
        "pk_kwd=a",
        "fbclid=abc",
        "gclid=1",
        "dclid=1",
        "msclkid=1",
        "yclid=1",
        "igshid=1",
        "ref=home",
        "_ga=1.2",
        "amp=1",
        "FBCLID=abc",
    ],
)
def test_tracking_parameters_are_dropped(param):
    _origin, canonical = split_article_url(f"https://news.example/a?id=7&{param}")
    assert canonical == "https://news.example/a?id=7"


def test_only_tracking_parameters_leave_no_query_at_all():
    _origin, canonical = split_article_url("https://news.example/a?utm_source=x&fbclid=y")
    assert canonical == "https://news.example/a"


def test_remaining_query_is_sorted():
    _origin, canonical = split_article_url("https://news.example/a?b=2&a=1&c=3")
    assert canonical == "https://news.example/a?a=1&b=2&c=3"


def test_repeated_parameters_are_kept_and_sorted_by_value():
    _origin, canonical = split_article_url("https://news.example/a?tag=z&tag=a")
    assert canonical == "https://news.example/a?tag=a&tag=z"


def test_blank_parameter_values_are_kept():
    _origin, canonical = split_article_url("https://news.example/a?page=&id=3")
    assert canonical == "https://news.example/a?id=3&page="


def test_non_tracking_parameter_that_merely_contains_a_tracking_word_is_kept():
    _origin, canonical = split_article_url("https://news.example/a?reference=1&campaign_utm=2")
    assert canonical == "https://news.example/a?campaign_utm=2&reference=1"


def test_fragment_is_dropped():
    _origin, canonical = split_article_url("https://news.example/a/#comments")
    assert canonical == "https://news.example/a/"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://news.example:443/a", "https://news.example"),
        ("http://news.example:80/a", "http://news.example"),
        ("https://news.example:8443/a", "https://news.example:8443"),
        ("http://news.example:443/a", "http://news.example:443"),
    ],
)
def test_only_the_scheme_default_port_is_dropped(url, origin):
    split_origin, canonical = split_article_url(url)
    assert split_origin == origin
    assert canonical == origin + "/a"


def test_host_and_scheme_are_lowercased_but_path_is_not():
    origin, canonical = split_article_url("HTTPS://News.EXAMPLE/Politics/A")
    assert origin == "https://news.example"
    assert canonical == "https://news.example/Politics/A"


def test_missing_path_becomes_slash():
    assert split_article_url("https://news.example")[1] == "https://news.example/"
    assert key("https://news.example") == key("https://news.example/")


def test_surrounding_whitespace_is_ignored():
    assert split_article_url("  https://news.example/a \n") == (
        "https://news.example",
        "https://news.example/a",
    )


def test_ipv6_host_keeps_its_brackets():
    assert split_article_url("http://[::1]:8000/a")[0] == "http://[::1]:8000"


def test_url_of_exactly_the_maximum_length_is_accepted():
    base = "https://news.example/"
    url = base + "a" * (MAX_URL_CHARS - len(base))
    assert len(url) == MAX_URL_CHARS
    assert split_article_url(url)[0] == "https://news.example"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("/2016/07/incirlik/", id="relative"),
        pytest.param("//news.example/a", id="scheme-relative"),
        pytest.param("news.example/a", id="no-scheme"),
        pytest.param("ftp://news.example/a", id="ftp"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("data:text/html,<p>x</p>", id="data"),
        pytest.param("mailto:editor@news.example", id="mailto"),
        pytest.param("https://", id="no-host"),
        pytest.param("https:///a", id="no-host-with-path"),
        pytest.param("https://user:pw@news.example/a", id="credentials"),
        pytest.param("https://news.example:99999/a", id="port-out-of-range"),
        pytest.param("https://news.example:port/a", id="port-not-a-number"),
        pytest.param("https://news.example/" + "a" * MAX_URL_CHARS, id="too-long"),
    ],
)
def test_invalid_article_urls_are_refused(url):
    with pytest.raises(InvalidArticleUrl):
        split_article_url(url)


def test_invalid_article_url_is_a_value_error():
    # Callers that only know ValueError still catch it.
    with pytest.raises(ValueError):
        split_article_url("javascript:alert(1)")


# canonical_url_key


def test_key_has_no_scheme_so_http_and_https_find_the_same_thread():
    assert key("http://news.example/a") == key("https://news.example/a")
    assert key("https://news.example/a") == "//news.example/a"


def test_key_keeps_a_non_default_port_apart():
    assert key("https://news.example:8443/a") != key("https://news.example/a")


@pytest.mark.parametrize(
    "variant",
    [
        "https://news.example/a?id=7",
        "https://NEWS.example/a?id=7",
        "https://news.example:443/a?id=7",
        "http://news.example/a?id=7",
        "https://news.example/a?id=7#comments",
        "https://news.example/a?utm_source=tw&id=7&fbclid=x",
        " https://news.example/a?id=7 ",
    ],
)
def test_variants_of_one_article_share_a_key(variant):
    assert key(variant) == key("https://news.example/a?id=7")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://news.example/a", "https://news.example/b"),
        ("https://news.example/a?id=1", "https://news.example/a?id=2"),
        ("https://news.example/a", "https://news.example/A"),
        ("https://news.example/a", "https://other.example/a"),
    ],
)
def test_different_articles_have_different_keys(one, other):
    assert key(one) != key(other)


def test_encoded_and_plus_spaces_in_the_query_share_a_key():
    assert key("https://news.example/s?q=a%20b") == key("https://news.example/s?q=a+b")


def test_key_up_to_200_chars_is_kept_as_is():
    url = "https://news.example/" + "a" * (200 - len("//news.example/"))
    assert len(key(url)) == 200
    assert key(url) == url.split(":", 1)[1]


def test_long_key_is_hashed_to_a_stable_short_key():
    url = "https://news.example/" + "a" * (201 - len("//news.example/"))
    hashed = key(url)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", hashed)
    assert len(hashed) <= 255  # fits Thread.url_key
    assert key(url) == hashed
    assert key(url.replace("https:", "http:") + "#x") == hashed
    assert key(url + "b") != hashed


# normalize_origin


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://news.example", "https://news.example"),
        ("HTTPS://News.Example:443/", "https://news.example"),
        ("http://news.example:80", "http://news.example"),
        ("https://news.example:8443", "https://news.example:8443"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("  https://news.example  ", "https://news.example"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://127.0.0.1", "http://127.0.0.1"),
    ],
)
def test_normalize_origin(value, origin):
    assert normalize_origin(value) == origin


@pytest.mark.parametrize(
    "value",
    [
        "",
        "news.example",
        "//news.example",
        "ftp://news.example",
        "javascript:alert(1)",
        "https://",
        "https://news.example/path",
        "https://news.example/?q=1",
        "https://news.example/#top",
        "https://user@news.example",
        "https://user:pw@news.example",
        "https://news.example:99999",
        "https://news.example:abc",
    ],
)
def test_invalid_origins_are_refused(value):
    with pytest.raises(InvalidOrigin):
        normalize_origin(value)
