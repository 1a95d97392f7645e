from __future__ import annotations

import gzip
import json

import pytest

from townhall.widget.assets import (
    LOCALES,
    SUPPORT_STRINGS,
    account_script,
    account_script_url,
    anchoring_script,
    anchoring_script_url,
    embed_script,
    embed_script_url,
    minify,
    support_script,
    support_script_url,
)


def test_embed_js_is_javascript_with_locales_and_styles_inlined(client):
    response = client.get("/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    body = response.content.decode()
    assert "/*@LOCALES@*/" not in body and "/*@CSS@*/" not in body
    assert "Would love your thoughts, please comment." in body
    assert "Kommentare sortieren" in body  # the German locale
    assert "--townhall-accent" in body
    assert "max-age=300" in response["Cache-Control"]
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_every_locale_has_every_english_key():
    english = json.loads((LOCALES / "en.json").read_text())
    for path in LOCALES.glob("*.json"):
        strings = json.loads(path.read_text())
        assert set(strings) == set(english), path.name
        assert set(strings[SUPPORT_STRINGS]) == set(english[SUPPORT_STRINGS]), path.name


def test_hashed_url_is_cached_for_a_year(client):
    url = embed_script_url()
    assert url == f"/embed.{embed_script().digest}.js"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


def test_an_old_hash_still_gets_a_working_script_briefly_cached(client):
    response = client.get("/embed.0123456789abcdef.js")
    assert response.status_code == 200
    assert "max-age=300" in response["Cache-Control"]


def test_gzip_when_accepted_and_etag_revalidation(client):
    response = client.get("/embed.js", headers={"Accept-Encoding": "gzip, br"})
    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.content) == embed_script().body
    assert "Accept-Encoding" in response["Vary"]
    again = client.get("/embed.js", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304


def test_only_safe_methods(client):
    assert client.post("/embed.js").status_code == 405


def test_served_scripts_are_minified_without_changing_literals():
    source = (
        "  // a comment\n  const a = `x  ${ b }  y`;\n  /* block */\n"
        '  if (a) {\n    go("a  // b");\n  }\n'
    )
    assert minify(source) == 'const a=`x  ${ b }  y`;if(a){go("a  // b");}'
    # The widget's own sources keep to what that needs (checked when they are assembled).
    assert embed_script().body and anchoring_script().body


def test_a_template_literal_nested_in_another_is_refused_rather_than_changed():
    with pytest.raises(ValueError, match="nested"):
        minify("const a = `one ${b ? `two` : c}`;\n")


def test_widget_stays_within_its_size_budget():
    # The budget for everything the widget needs: 15 KB gzipped (make bench reports it).
    assert len(embed_script().gzipped) <= 15 * 1024


@pytest.mark.django_db
class TestPreview:
    def test_renders_like_a_posted_comment(self, api, site):
        response = api.post(
            "/api/v1/preview", {"site": "news", "body": "**bold** <script>x</script>"}
        )
        assert response.status_code == 200
        html = response.json()["html"]
        assert "<strong>bold</strong>" in html and "<script" not in html

    def test_empty_body_previews_as_nothing(self, api, site):
        assert api.post("/api/v1/preview", {"site": "news", "body": "  "}).json() == {"html": ""}

    @pytest.mark.parametrize(
        ("payload", "status", "code"),
        [
            ({"site": "nope", "body": "x"}, 404, "unknown_site"),
            ({"site": "news"}, 422, "invalid_request"),
            ({"site": "news", "body": "x" * 10_001}, 400, "body_too_long"),
        ],
    )
    def test_errors(self, api, site, payload, status, code):
        response = api.post("/api/v1/preview", payload)
        assert response.status_code == status
        assert response.json()["error"]["code"] == code

    def test_foreign_origin_is_refused(self, api, site):
        response = api.post(
            "/api/v1/preview", {"site": "news", "body": "x"}, origin="https://evil.example"
        )
        assert response.status_code == 403

    def test_is_rate_limited(self, api, site):
        statuses = [
            api.post("/api/v1/preview", {"site": "news", "body": "x"}).status_code
            for _ in range(31)
        ]
        assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_anchoring_js_is_served_apart_and_its_url_is_in_the_widget(client):
    url = anchoring_script_url()
    assert url == f"/embed-anchoring.{anchoring_script().digest}.js"
    assert (
        f'"{url}"' in embed_script().body.decode()
        and "/*@ANCHORING@*/" not in embed_script().body.decode()
    )
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Encoding"] == "gzip"
    assert b"TownhallAnchoring" in gzip.decompress(response.content)
    plain = client.get("/embed-anchoring.js")
    assert "max-age=300" in plain["Cache-Control"]
    assert plain.content == anchoring_script().body
    assert (
        client.get("/embed-anchoring.js", headers={"If-None-Match": plain["ETag"]}).status_code
        == 304
    )


@pytest.mark.parametrize(
    ("name", "script", "script_url", "marker"),
    [
        ("support", support_script, support_script_url, "/*@SUPPORT@*/"),
        ("account", account_script, account_script_url, "/*@ACCOUNT@*/"),
    ],
)
def test_a_lazy_module_is_served_apart_and_its_url_is_in_the_widget(
    client, name, script, script_url, marker
):
    url = script_url()
    assert url == f"/embed-{name}.{script().digest}.js"
    widget = embed_script().body.decode()
    assert f'"{url}"' in widget and marker not in widget
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Encoding"] == "gzip"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert gzip.decompress(response.content) == script().body
    plain = client.get(f"/embed-{name}.js")
    assert "max-age=300" in plain["Cache-Control"]
    assert plain.content == script().body
    conditional = client.get(f"/embed-{name}.js", headers={"If-None-Match": plain["ETag"]})
    assert conditional.status_code == 304
    assert client.get(f"/embed-{name}.0123456789abcdef.js").status_code == 200
    assert client.post(f"/embed-{name}.js").status_code == 405


def test_support_strings_and_styles_go_into_support_js_only():
    support = support_script().body.decode()
    widget = embed_script().body.decode()
    assert "/*@LOCALES@*/" not in support and "/*@CSS@*/" not in support
    assert "TownhallSupport" in support
    # Its strings in every language, and its stylesheet, minified.
    assert "Show a supporter badge on my comments" in support and "Nein, danke" in support
    assert ":host([data-townhall-campaign])" in support and "/* The goal bar" not in support
    assert "Show a supporter badge" not in widget and "Nein, danke" not in widget
    # The comment badge is the widget's own.
    assert '"supporter":"Supporter"' in widget and '"supporter":"Unterstützer"' in widget


def test_account_strings_and_styles_go_into_account_js_only():
    account = account_script().body.decode()
    widget = embed_script().body.decode()
    assert "/*@LOCALES@*/" not in account and "/*@CSS@*/" not in account
    assert "TownhallAccount" in account
    assert "Download my data" in account and "Meine Daten herunterladen" in account
    assert ".account-panel" in account and "/* The sign-in form" not in account
    assert "Download my data" not in widget and "Meine Daten herunterladen" not in widget
    assert ".account-panel" not in widget
    # The bar's button is the widget's own.
    assert '"signIn":"Sign in"' in widget and '"signIn":"Anmelden"' in widget


def test_every_locale_has_the_account_strings_of_english():
    english = json.loads((LOCALES / "en.json").read_text("utf-8"))
    for path in LOCALES.glob("*.json"):
        strings = json.loads(path.read_text("utf-8"))
        assert set(strings["account"]) == set(english["account"]), path.name
