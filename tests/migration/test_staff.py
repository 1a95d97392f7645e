"""The staff import page: who may use it, CSRF, the upload limit, a run queued and then run by
the worker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django_tasks_db.models import DBTaskResult

from tests.migration.conftest import disqus_xml
from townhall.discussions.models import Comment, Thread
from townhall.migration.models import ImportRun
from townhall.migration.tasks import run_queued_import
from townhall.moderation.actions import do_add_moderator

pytestmark = pytest.mark.django_db
PAGE = "/moderate/news/import/"
TASK_PATH = "townhall.migration.tasks.run_queued_import"


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def staff(site) -> Client:
    user = get_user_model().objects.create_user("desk")
    do_add_moderator(user, site)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf(client: Client) -> str:
    page = client.get(PAGE)
    assert page.status_code == 200
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def work() -> None:
    """What `townhall worker` does with the queued imports: runs each task enqueued (the worker
    command itself closes the test's database connection)."""
    queued = DBTaskResult.objects.filter(task_path=TASK_PATH, status="READY").order_by("pk")
    assert queued.exists()
    for result in queued:
        run_queued_import.call(*result.args_kwargs["args"])


def upload(samples: Path, name: str, **fields):
    data = {"format": "disqus", "file": SimpleUploadedFile(name, (samples / name).read_bytes())}
    return {**data, **fields}


def test_the_page_needs_a_login_and_a_moderator_of_the_site(client, make_site, site):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/moderate/login/" in response["Location"]
    other = make_site(slug="other")
    user = get_user_model().objects.create_user("elsewhere")
    do_add_moderator(user, other)
    outsider = Client()
    outsider.force_login(user)
    assert outsider.get(PAGE).status_code == 404
    assert outsider.post(PAGE, {"format": "disqus"}).status_code in (302, 404)
    assert not ImportRun.objects.exists()


def test_the_page_and_its_nav_link(staff):
    page = staff.get(PAGE)
    html = page.content.decode()
    assert 'aria-current="page">Import<' in html and 'enctype="multipart/form-data"' in html
    assert "script-src 'self'" in page["Content-Security-Policy"]


def test_csrf_is_required(staff, samples):
    response = staff.post(PAGE, upload(samples, "isso-disqus.xml"))
    assert response.status_code == 403 and not ImportRun.objects.exists()


def test_an_upload_is_queued_then_run_by_the_worker(staff, samples, site, settings):
    token = csrf(staff)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = staff.post(
            PAGE, {**upload(samples, "remark42-disqus.xml"), "csrfmiddlewaretoken": token}
        )
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert (run.status, run.format, run.filename, run.requested_by.username) == (
        "queued",
        "disqus",
        "remark42-disqus.xml",
        "desk",
    )
    stored = Path(run.stored_path)
    assert stored.is_file() and stored.parent == Path(settings.VAR_DIR) / "imports"
    assert "is queued" in staff.get(PAGE).content.decode()

    work()
    run.refresh_from_db()
    assert run.status == "done" and run.report["comments_created"] == 4
    assert len(run.sha256) == 64 and not stored.exists()
    assert Comment.objects.filter(thread__site=site).count() == 4
    html = staff.get(PAGE).content.decode()
    assert "Imported: 4 comments in 2 new threads." in html and "x299986073" in html


def test_a_dry_run_and_a_failed_run_are_listed(staff, samples, site):
    token = csrf(staff)
    with TestCase.captureOnCommitCallbacks(execute=True):
        staff.post(PAGE, {**upload(samples, "isso-disqus.xml"), "dry_run": "on",
                          "csrfmiddlewaretoken": token})  # fmt: skip
        staff.post(PAGE, {**upload(samples, "remark42-commento.json"),
                          "csrfmiddlewaretoken": token})  # fmt: skip
    work()
    dry, failed = ImportRun.objects.order_by("pk")
    assert dry.status == "done" and dry.report["dry_run"] and not Thread.objects.exists()
    assert failed.status == "failed" and "not a Disqus XML export" in failed.error
    html = staff.get(PAGE).content.decode()
    assert "Dry run, nothing written: 4 comments" in html and "not a Disqus XML export" in html


def test_bad_forms_and_the_size_limit(staff, samples, monkeypatch):
    token = csrf(staff)
    response = staff.post(
        PAGE,
        {**upload(samples, "isso-disqus.xml"), "base_url": "nope", "csrfmiddlewaretoken": token},
    )
    assert (
        response.status_code == 400 and "not an absolute http(s) URL" in response.content.decode()
    )
    monkeypatch.setenv("TOWNHALL_IMPORT_MAX_BYTES", "1000")
    response = staff.post(
        PAGE, {**upload(samples, "isso-disqus.xml"), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 400 and "over the limit" in response.content.decode()
    response = staff.post(
        PAGE,
        {
            "csrfmiddlewaretoken": token,
            "format": "disqus",
            "file": SimpleUploadedFile("big.xml", b"x" * 200_000),
        },
    )
    assert response.status_code == 413
    assert not ImportRun.objects.exists()


def test_a_file_larger_than_the_request_body_limit_is_taken(staff, site, settings):
    """DATA_UPLOAD_MAX_MEMORY_SIZE (64 KiB) caps form fields, not uploaded files."""
    data = disqus_xml(400, threads=4)
    assert len(data) > 2 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    token = csrf(staff)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = staff.post(
            PAGE,
            {
                "format": "disqus",
                "file": SimpleUploadedFile("big.xml", data),
                "csrfmiddlewaretoken": token,
            },
        )
    assert response.status_code == 302
    work()
    assert ImportRun.objects.get().report["comments_created"] == 400
