from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from townhall.sites.models import Site

pytestmark = pytest.mark.django_db


def test_createsite_normalizes_origins(capsys):
    call_command(
        "createsite",
        "paper",
        "--name",
        "The Paper",
        "--origin",
        "HTTPS://Paper.Example:443/",
        "--origin",
        "http://localhost:8000",
        "--moderation",
        "pre",
        "--edit-window",
        "600",
    )
    site = Site.objects.get(slug="paper")
    assert site.allowed_origins == ["http://localhost:8000", "https://paper.example"]
    assert (site.name, site.moderation_mode, site.edit_window_seconds) == ("The Paper", "pre", 600)
    assert "Created site 'paper'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Slug"], "not a valid slug"),
        (["paper", "--origin", "ftp://paper.example"], r"not an http\(s\) origin"),
        (["paper", "--origin", "https://paper.example/path"], "more than scheme"),
        (["paper", "--max-depth", "0"], "max_depth"),
    ],
)
def test_createsite_refuses_bad_input_clearly(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("createsite", *args)
    assert not Site.objects.exists()


def test_createsite_refuses_a_taken_slug():
    call_command("createsite", "paper")
    with pytest.raises(CommandError, match="exists already"):
        call_command("createsite", "paper")
