"""CSV import of contributions received elsewhere (bank transfers, cheques, another processor).

Columns, by header: ``date`` (ISO 8601: 2026-11-30 or 2026-11-30T14:05:00+01:00), ``amount`` (a
decimal string in major units, "25.00"; more decimals than the currency has is an error),
``currency`` (the campaign's), ``external_id`` and ``note`` (both optional). Every row is
checked first: a file with any bad row writes nothing, and the report names each bad row by its
line number with the reason. A row is written once: importing the same file again writes
nothing new (rows are known by ``external_id``, or by a hash of the row without one).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from django.db import transaction
from django.utils import timezone

from townhall.support.actions import do_record_contribution
from townhall.support.models import Campaign, Contribution, ContributionSource
from townhall.support.money import format_money, locale_for, parse_amount

REQUIRED = ("date", "amount", "currency")
OPTIONAL = ("external_id", "note")
MAX_ROWS = 10_000
MAX_EXTERNAL_ID_CHARS = 200
MAX_NOTE_CHARS = 500


@dataclass(frozen=True)
class Row:
    line: int
    settled_at: datetime
    amount: int
    external_id: str  # as stored: "<campaign id>:<the file's id or sha256:…>"
    note: str


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows: list[Row] = field(default_factory=list)  # good rows
    bad: list[BadRow] = field(default_factory=list)
    already: int = 0  # good rows imported before (not written again)
    written: int = 0
    amount_written: int = 0  # minor units
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.bad


def do_import_contributions(
    campaign: Campaign, text: str, *, dry_run: bool = False
) -> ImportReport:
    """Checks every row of a CSV text, then (unless ``dry_run`` or a row is bad) records the
    new ones as settled contributions in one transaction. Returns what was found and done."""
    report = read_rows(campaign, text)
    report.dry_run = dry_run
    known = set(
        Contribution.objects.filter(
            source=ContributionSource.CSV, external_id__in=[row.external_id for row in report.rows]
        ).values_list("external_id", flat=True)
    )
    new = [row for row in report.rows if row.external_id not in known]
    report.already = len(report.rows) - len(new)
    if not report.ok:
        return report
    if dry_run:
        report.amount_written = sum(row.amount for row in new)
        return report
    with transaction.atomic():
        for row in new:
            recorded = do_record_contribution(
                campaign,
                amount=row.amount,
                currency=campaign.currency,
                source=ContributionSource.CSV,
                external_id=row.external_id,
                note=row.note,
                settled_at=row.settled_at,
            )
            if recorded.created:
                report.written += 1
                report.amount_written += row.amount
    return report


def read_rows(campaign: Campaign, text: str) -> ImportReport:
    """Every row checked; none written."""
    report = ImportReport()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        report.bad.append(BadRow(1, "the file is empty: the first line names the columns"))
        return report
    except csv.Error as error:
        report.bad.append(BadRow(1, f"not CSV: {error}"))
        return report
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        what = "; ".join(
            part
            for part in (
                f"missing column {', '.join(missing)}" if missing else "",
                f"unknown column {', '.join(unknown)}" if unknown else "",
                "a column named twice" if len(set(header)) != len(header) else "",
            )
            if part
        )
        report.bad.append(BadRow(1, f"{what} (columns: {', '.join(REQUIRED + OPTIONAL)})"))
        return report
    seen_ids: dict[str, int] = {}
    repeats: Counter[str] = Counter()
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(report.rows) + len(report.bad) >= MAX_ROWS:
                report.bad.append(BadRow(line, f"more than {MAX_ROWS} rows: split the file"))
                break
            if len(cells) != len(header):
                report.bad.append(
                    BadRow(line, f"{len(cells)} fields where the header has {len(header)}")
                )
                continue
            values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
            try:
                row = _row(campaign, line, values, repeats)
            except ValueError as error:
                report.bad.append(BadRow(line, str(error)))
                continue
            if row.external_id in seen_ids:
                report.bad.append(
                    BadRow(line, f"external_id repeats line {seen_ids[row.external_id]}")
                )
                continue
            seen_ids[row.external_id] = line
            report.rows.append(row)
    except csv.Error as error:
        report.bad.append(BadRow(reader.line_num, f"not CSV: {error}"))
    return report


def _row(campaign: Campaign, line: int, values: dict[str, str], repeats: Counter[str]) -> Row:
    currency = values["currency"].upper()
    if currency != campaign.currency:
        raise ValueError(
            f"currency {values['currency']!r}: this campaign counts {campaign.currency}"
        )
    amount = parse_amount(values["amount"], campaign.currency)
    settled_at = _date(values["date"])
    note = values.get("note", "")
    if len(note) > MAX_NOTE_CHARS:
        raise ValueError(f"note longer than {MAX_NOTE_CHARS} characters")
    given = values.get("external_id", "")
    if len(given) > MAX_EXTERNAL_ID_CHARS:
        raise ValueError(f"external_id longer than {MAX_EXTERNAL_ID_CHARS} characters")
    if given:
        key = given
    else:
        # The same row twice in a file is two contributions; the same file twice is not.
        fields = "\x1f".join([settled_at.isoformat(), str(amount), currency, note])
        repeats[fields] += 1
        key = "sha256:" + hashlib.sha256(f"{fields}\x1f{repeats[fields]}".encode()).hexdigest()
    return Row(line, settled_at, amount, f"{campaign.pk}:{key}", note)


def _date(text: str) -> datetime:
    if not text:
        raise ValueError("no date")
    try:
        if "T" in text or " " in text:
            moment = datetime.fromisoformat(text)
        else:
            moment = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    except ValueError:
        raise ValueError(f"date {text!r} is not ISO 8601 (2026-11-30)") from None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    if moment > timezone.now():
        raise ValueError(f"date {text!r} is in the future")
    return moment


def describe(report: ImportReport, currency: str) -> list[str]:
    """The report as lines for a person: bad rows first, then what was (or would be) written."""
    lines = [f"line {bad.line}: {bad.reason}" for bad in report.bad]
    if report.bad:
        lines.append(f"{len(report.bad)} bad row(s): nothing was written.")
        return lines
    new = len(report.rows) - report.already
    verb = "would write" if report.dry_run else "wrote"
    count = new if report.dry_run else report.written
    total = format_money(report.amount_written, currency, locale_for("en"))
    lines.append(
        f"{len(report.rows)} row(s); {report.already} imported before; {verb} {count} ({total})."
    )
    return lines
