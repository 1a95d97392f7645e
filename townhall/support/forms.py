"""What the support pages accept. Amounts are typed as decimal strings in major units ("25.00")
and parsed with ``Decimal`` against the campaign's currency by the views' actions."""

from __future__ import annotations

from django import forms

MAX_CSV_BYTES = 1024 * 1024


class ContributionForm(forms.Form):
    amount = forms.CharField(max_length=24, help_text='In major units, e.g. "25.00".')
    date = forms.DateField(
        required=False, help_text="When it was received (YYYY-MM-DD); today when empty."
    )
    note = forms.CharField(max_length=500, required=False, help_text="Seen by staff only.")


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the columns date, amount, currency, external_id (optional), note "
        "(optional). A file with a bad row writes nothing."
    )
    dry_run = forms.BooleanField(required=False, label="Dry run: check only, write nothing")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError("The file is over 1 MiB: split it.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None


class SupportForm(forms.Form):
    """The support page without JavaScript: an amount in major units."""

    amount = forms.CharField(max_length=24)
