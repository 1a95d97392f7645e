"""What the staff import page accepts."""

from __future__ import annotations

from django import forms

from townhall.migration.actions import check_base_url

FORMAT_CHOICES = [
    ("disqus", "Disqus (XML export)"),
    ("wordpress", "WordPress with wpDiscuz (WXR export)"),
    ("isso", "Isso (its SQLite database file)"),
    ("commento", "Commento (JSON export)"),
    ("townhall", "Townhall (this server's own export)"),
]


class ImportForm(forms.Form):
    format = forms.ChoiceField(choices=FORMAT_CHOICES)
    file = forms.FileField(help_text="The export file, as the other system gave it.")
    base_url = forms.CharField(
        max_length=2048,
        required=False,
        label="Base URL",
        help_text="Where page paths of the file are (Isso, Commento without a domain); the "
        "site's first origin when empty.",
    )
    dry_run = forms.BooleanField(
        required=False, label="Dry run: import, report, then roll everything back"
    )

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(f"The file is over the limit of {self.max_bytes} bytes.")
        return upload

    def clean_base_url(self) -> str:
        value = self.cleaned_data["base_url"].strip()
        if not value:
            return ""
        try:
            return check_base_url(value)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
