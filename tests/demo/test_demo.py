from __future__ import annotations

import pytest
from django.core.management import call_command

from townhall.demo.seed import ARTICLE_PATH, article_url, seed_article
from townhall.discussions.models import Comment, Thread
from townhall.sites.models import Site
from townhall.support.models import Campaign
from townhall.widget.assets import embed_script_url

pytestmark = pytest.mark.django_db


def test_demo_loads_the_seed_article_once(capsys):
    call_command("demo", "--port", "8123")
    call_command("demo", "--port", "8123")
    site = Site.objects.get(slug="demo")
    assert site.allowed_origins == ["http://127.0.0.1:8123", "http://localhost:8123"]
    thread = Thread.objects.get(site=site)
    assert thread.url == article_url(8123)
    assert thread.comment_count == 3
    ted = Comment.objects.get(author_name="Ted Zah")
    assert ted.parent is not None and "turkish bazaar" in ted.body
    assert "already there" in capsys.readouterr().out


def test_demo_page_shows_the_article_and_its_comments(client):
    call_command("demo", "--port", "80")
    response = client.get(ARTICLE_PATH)
    html = response.content.decode()
    assert response.status_code == 200
    article = seed_article()
    assert article["title"] in html
    assert all(p in html for p in article["paragraphs"])
    assert article["related"] in html
    for figure in ("0 $", "2,500 $", "5,000 $", "3,048 $", "Support SouthFront"):
        assert figure in html
    # The thread, rendered on the server inside the element the widget takes over...
    assert "Ted Zah" in html and "3 Comments" in html
    assert 'itemtype="https://schema.org/Comment"' in html
    # ...and the one tag a publisher adds.
    assert f'<script src="{embed_script_url()}" data-site="demo"' in html


def test_demo_page_without_the_demo_site_says_how_to_load_it(client):
    response = client.get(ARTICLE_PATH)
    assert response.status_code == 503
    assert b"townhall demo" in response.content


def test_home_redirects_to_the_article(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == ARTICLE_PATH


def test_demo_page_holds_the_campaigns_goal_bar_rendered_on_the_server(client):
    call_command("demo", "--port", "80")
    html = client.get(ARTICLE_PATH).content.decode()
    assert '<div data-townhall-campaign="southfront" data-pattern="#,##0 ¤">' in html
    assert 'role="progressbar"' in html and 'aria-valuenow="3048"' in html
    assert 'aria-valuemax="5000"' in html
    # The seed page's figures, with the symbol after the number.
    assert '<span class="townhall-campaign__tick">2,500 $</span>' in html
    assert '<strong class="townhall-campaign__amount">3,048 $</strong>' in html
    # Both "Support SouthFront" links go to the support page without JavaScript.
    assert html.count("Support SouthFront</a>") == 2
    assert html.count("/support/demo/southfront/?return_url=") == 2


def test_demo_page_in_german(client):
    call_command("demo", "--port", "80")
    html = client.get(ARTICLE_PATH + "?lang=de").content.decode()
    assert '<html lang="de">' in html
    assert '<span class="townhall-campaign__tick">2.500 $</span>' in html
    assert client.get(ARTICLE_PATH + "?lang=xx").content.decode().count('<html lang="en">') == 1


def test_demo_page_without_its_campaign_keeps_empty_campaign_elements(client):
    call_command("demo", "--port", "80")
    Campaign.objects.filter(slug="southfront").delete()
    html = client.get(ARTICLE_PATH).content.decode()
    assert 'role="progressbar"' not in html
    assert '<div data-townhall-campaign="southfront" data-pattern="#,##0 ¤"></div>' in html
    assert "Support SouthFront" not in html
