"""CSV import: every row checked before any is written; a file is imported once."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from townhall.support.imports import describe, do_import_contributions
from townhall.support.models import Contribution
from townhall.support.queries import settled_sum

pytestmark = pytest.mark.django_db

GOOD = """date,amount,currency,external_id,note
2026-11-01,25.00,USD,bank-1,Transfer
2026-11-02,100,usd,bank-2,
2026-11-03T10:00:00+01:00,0.50,USD,,Cheque
2026-11-03,0.50,USD,,Cheque
"""


def test_a_good_file_is_written_once(site, make_campaign):
    campaign = make_campaign(site)
    report = do_import_contributions(campaign, GOOD)
    assert report.ok and report.written == 4 and report.amount_written == 12_600
    campaign.refresh_from_db()
    assert campaign.settled_total == settled_sum(campaign) == 12_600
    assert set(Contribution.objects.values_list("source", "status").distinct()) == {
        ("csv", "settled")
    }

    again = do_import_contributions(campaign, GOOD)
    assert again.ok and again.written == 0 and again.already == 4
    assert Contribution.objects.count() == 4
    assert describe(again, "USD") == ["4 row(s); 4 imported before; wrote 0 ($0)."]


def test_the_same_row_twice_without_an_id_is_two_contributions(site, make_campaign):
    campaign = make_campaign(site)
    text = "date,amount,currency\n2026-11-01,5.00,USD\n2026-11-01,5.00,USD\n"
    assert do_import_contributions(campaign, text).written == 2
    assert do_import_contributions(campaign, text).written == 0
    bigger = text + "2026-11-01,5.00,USD\n"
    assert do_import_contributions(campaign, bigger).written == 1


def test_a_dry_run_writes_nothing_and_says_what_it_would(site, make_campaign):
    campaign = make_campaign(site)
    report = do_import_contributions(campaign, GOOD, dry_run=True)
    assert report.ok and report.written == 0 and report.amount_written == 12_600
    assert describe(report, "USD") == ["4 row(s); 0 imported before; would write 4 ($126)."]
    assert not Contribution.objects.exists()


def test_a_file_with_bad_rows_writes_nothing_and_names_each(site, make_campaign):
    campaign = make_campaign(site)
    text = (
        "date,amount,currency,external_id,note\n"
        "2026-11-01,25.00,USD,ok-1,\n"  # line 2: good
        "2026-11-01,25.001,USD,x-3,\n"  # 3: too many decimals
        "2026-11-01,25.00,EUR,x-4,\n"  # 4: another currency
        "yesterday,1.00,USD,x-5,\n"  # 5: not a date
        "2026-11-01,-3,USD,x-6,\n"  # 6: not positive
        "2026-11-01,1 000,USD,x-7,\n"  # 7: not a number
        "2026-11-01,1.00,USD,ok-1,\n"  # 8: repeats line 2
        "2026-11-01,1.00\n"  # 9: too few fields
        "2999-01-01,1.00,USD,x-10,\n"  # 10: in the future
        "2026-11-01,1e3,USD,x-11,\n"  # 11: not a decimal string
    )
    report = do_import_contributions(campaign, text)
    assert not report.ok
    assert [bad.line for bad in report.bad] == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    reasons = {bad.line: bad.reason for bad in report.bad}
    assert "more than 2 decimals" in reasons[3]
    assert "counts USD" in reasons[4]
    assert "ISO 8601" in reasons[5]
    assert "positive" in reasons[6]
    assert "repeats line 2" in reasons[8]
    assert "future" in reasons[10]
    assert not Contribution.objects.exists()
    campaign.refresh_from_db()
    assert campaign.settled_total == 0
    assert describe(report, "USD")[-1] == "9 bad row(s): nothing was written."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the file is empty"),
        ("when,amount,currency\n2026-11-01,1,USD\n", "missing column date"),
        ("date,amount,currency,donor\n", "unknown column donor"),
    ],
)
def test_a_bad_header_is_line_1(site, make_campaign, text, reason):
    report = do_import_contributions(make_campaign(site), text)
    assert report.bad[0].line == 1 and reason in report.bad[0].reason


def test_zero_decimal_currencies(site, make_campaign):
    campaign = make_campaign(site, currency="JPY", goal=100_000)
    text = "date,amount,currency\n2026-11-01,3048,JPY\n2026-11-01,10.00,JPY\n"
    report = do_import_contributions(campaign, text)
    assert [bad.line for bad in report.bad] == [3]


def test_the_command(site, make_campaign, tmp_path, capsys):
    make_campaign(site, slug="drive")
    path = tmp_path / "gifts.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("contribution", "import", "--campaign", "news/drive", str(path), "--dry-run")
    assert "would write 4" in capsys.readouterr().out
    assert not Contribution.objects.exists()
    call_command("contribution", "import", "--campaign", "news/drive", str(path))
    assert "wrote 4" in capsys.readouterr().out
    path.write_text("date,amount,currency\n2026-11-01,abc,USD\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 2: 'abc' is not an amount"):
        call_command("contribution", "import", "--campaign", "news/drive", str(path))
    assert Contribution.objects.count() == 4
