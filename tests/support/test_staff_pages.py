"""The Support section of the moderators' pages: who may see it, manual entry, CSV import."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from townhall.moderation.actions import do_add_moderator
from townhall.support.models import Contribution

pytestmark = pytest.mark.django_db


@pytest.fixture
def drive(site, make_campaign):
    return make_campaign(site, slug="drive", title="Winter drive")


@pytest.fixture
def staff(site) -> Client:
    user = get_user_model().objects.create_user("desk")
    do_add_moderator(user, site)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf(client: Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def test_the_pages_need_a_login(client, site, drive):
    for path in ("/moderate/news/support/", "/moderate/news/support/drive/"):
        response = client.get(path)
        assert response.status_code == 302 and "/moderate/login/" in response["Location"]
    response = client.post("/moderate/news/support/drive/contributions/", {"amount": "5"})
    assert response.status_code == 302
    assert not Contribution.objects.exists()


def test_a_moderator_of_another_site_sees_nothing(make_site, site, drive):
    other = make_site(slug="other")
    user = get_user_model().objects.create_user("elsewhere")
    do_add_moderator(user, other)
    client = Client()
    client.force_login(user)
    assert client.get("/moderate/news/support/drive/").status_code == 404
    response = client.post("/moderate/news/support/drive/contributions/", {"amount": "5"})
    assert response.status_code in (302, 404)
    assert not Contribution.objects.exists()


def test_the_campaign_list_and_page(staff, drive):
    page = staff.get("/moderate/news/support/")
    html = page.content.decode()
    assert page.status_code == 200 and "Winter drive" in html and "$5,000" in html
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert 'aria-current="page">Support<' in html
    detail = staff.get("/moderate/news/support/drive/")
    assert "Add a contribution" in detail.content.decode()


def test_a_manual_contribution(staff, drive):
    path = "/moderate/news/support/drive/"
    token = csrf(staff, path)
    assert staff.post(f"{path}contributions/", {"amount": "25.00"}).status_code == 403  # CSRF
    response = staff.post(
        f"{path}contributions/",
        {"amount": "25.00", "date": "2026-11-30", "note": "Cheque", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    contribution = Contribution.objects.get()
    assert (contribution.amount, contribution.source, contribution.note) == (
        2500,
        "manual",
        "Cheque",
    )
    assert str(contribution.settled_at.date()) == "2026-11-30"
    after = staff.get(path).content.decode()
    assert "Added $25 to Winter drive." in after and "$25" in after

    bad = staff.post(f"{path}contributions/", {"amount": "25.001", "csrfmiddlewaretoken": token})
    assert bad.status_code == 400 and "more than 2 decimals" in bad.content.decode()
    assert Contribution.objects.count() == 1


def test_a_csv_import_with_a_dry_run(staff, drive):
    path = "/moderate/news/support/drive/"
    token = csrf(staff, path)
    text = b"date,amount,currency,external_id\n2026-11-01,10.00,USD,a\n2026-11-02,5.50,USD,b\n"

    def upload(data: bytes, dry_run: bool = False):
        form = {"file": SimpleUploadedFile("gifts.csv", data), "csrfmiddlewaretoken": token}
        if dry_run:
            form["dry_run"] = "on"
        return staff.post(f"{path}import/", form)

    dry = upload(text, dry_run=True)
    assert dry.status_code == 200 and "would write 2" in dry.content.decode()
    assert not Contribution.objects.exists()
    done = upload(text)
    assert done.status_code == 200 and "wrote 2" in done.content.decode()
    assert Contribution.objects.count() == 2
    bad = upload(b"date,amount,currency\n2026-11-01,10.001,USD\nnope,1,USD\n")
    html = bad.content.decode()
    assert bad.status_code == 400
    assert "line 2:" in html and "line 3:" in html and "nothing was written" in html
    assert Contribution.objects.count() == 2
    not_text = upload(b"\xff\xfe\x00bad")
    assert not_text.status_code == 400 and "not UTF-8" in not_text.content.decode()
