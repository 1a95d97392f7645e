"""``townhall import``: the summary, the run recorded, and clear errors without tracebacks."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from townhall.discussions.models import Comment
from townhall.migration.models import ImportRun

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_prints_the_summary_and_records_the_run(samples, site):
    path = samples / "remark42-disqus.xml"
    out = run("--site", "news", "--format", "disqus", str(path), "--no-progress")
    assert "Imported: 4 comments in 2 new threads." in out
    assert "Left out: 1 spam." in out and "post dsq:id=x299986073" in out
    run_ = ImportRun.objects.get()
    assert (run_.status, run_.format, run_.filename, run_.dry_run) == (
        "done",
        "disqus",
        "remark42-disqus.xml",
        False,
    )
    assert len(run_.sha256) == 64 and run_.report["comments_created"] == 4 and run_.finished
    again = run("--site", "news", "--format", "disqus", str(path))
    assert "Comments: 0 created, 4 imported before." in again


def test_a_dry_run_writes_nothing(samples, site):
    out = run("--site", "news", "--format", "commento", str(samples / "remark42-commento.json"),
              "--dry-run")  # fmt: skip
    assert out.startswith("Dry run, nothing written: 3 comments in 2 new threads.")
    assert not Comment.objects.exists() and not ImportRun.objects.exists()


def test_base_url(samples, site):
    out = run("--site", "news", "--format", "commento", str(samples / "remark42-commento.json"),
              "--base-url", "https://news.example/")  # fmt: skip
    assert "3 comments" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nope", "--format", "disqus", "x.xml"], "There is no site 'nope'"),
        (["--site", "news", "--format", "disqus", "/no/such/file.xml"], "no such file"),
        (
            ["--site", "news", "--format", "disqus", "SAMPLE", "--base-url", "news.example"],
            "not an absolute http(s) URL",
        ),
        (["--site", "news", "--format", "commento", "SAMPLE"], "not a Commento JSON export"),
    ],
)
def test_clear_errors(samples, site, args, message):
    args = [str(samples / "isso-disqus.xml") if a == "SAMPLE" else a for a in args]
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert message in str(raised.value)
    assert not Comment.objects.exists()


def test_a_wrong_format_is_a_failed_run(samples, site):
    with pytest.raises(CommandError, match="not a Disqus XML export"):
        run("--site", "news", "--format", "disqus", str(samples / "remark42-commento.json"))
    failed = ImportRun.objects.get()
    assert failed.status == "failed" and "not a Disqus" in failed.error


def test_an_unknown_format_is_refused(site, tmp_path):
    with pytest.raises(CommandError, match="invalid choice"):
        run("--site", "news", "--format", "livefyre", str(tmp_path))


def test_no_progress_bar_without_a_terminal(samples, site, capsys):
    run("--site", "news", "--format", "disqus", str(samples / "isso-disqus.xml"))
    assert capsys.readouterr().err == ""


def test_the_progress_bar_counts_the_bytes_read(samples, site, monkeypatch, capsys):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    path = samples / "isso-disqus.xml"
    run("--site", "news", "--format", "disqus", str(path))
    err = capsys.readouterr().err
    assert "Importing isso-disqus.xml" in err and "100%" in err


def test_an_unreadable_file_is_a_clear_error_and_a_failed_run(site, tmp_path):
    path = tmp_path / "export.xml"
    path.write_text("<disqus/>")
    path.chmod(0)
    try:
        readable = path.open("rb")
    except PermissionError:
        readable = None
    if readable is not None:
        readable.close()
        pytest.skip("running as a user who reads every file (root)")
    with pytest.raises(CommandError, match="Cannot read"):
        run("--site", "news", "--format", "disqus", str(path))
    assert ImportRun.objects.get().status == "failed"
