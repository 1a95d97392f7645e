"""What the moderators' pages accept: the shape of each form. The rules themselves (which
durations, which bounds for a site's settings) stay with the actions that enforce them."""

from __future__ import annotations

from typing import Any

from django import forms

from townhall.discussions.models import CommentStatus
from townhall.moderation.actions import BAN_DURATIONS, DECISIONS
from townhall.moderation.models import BanKind
from townhall.sites.models import Site

DURATION_LABELS = {"1d": "1 day", "7d": "7 days", "30d": "30 days", "forever": "For good"}
DURATIONS = [(key, DURATION_LABELS[key]) for key in BAN_DURATIONS]
MAX_BULK = 100


class IdsField(forms.Field):
    """Several ids of one name (``?comment=1&comment=2``), as whole numbers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value or []
        if len(values) > MAX_BULK:
            raise forms.ValidationError(f"At most {MAX_BULK} at once.")
        if not all(
            isinstance(v, str) and v.isascii() and v.isdigit() and len(v) < 19 for v in values
        ):
            raise forms.ValidationError("Not a list of ids.")
        return [int(v) for v in values]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[(d, d) for d in DECISIONS])


class BulkForm(forms.Form):
    decision = forms.ChoiceField(choices=[(d, d) for d in DECISIONS])
    comment = IdsField(error_messages={"required": "Select some comments first."})


class FeatureForm(forms.Form):
    featured = forms.TypedChoiceField(choices=[("1", "Feature"), ("0", "Unfeature")], coerce=int)


class BanAuthorForm(forms.Form):
    duration = forms.ChoiceField(choices=DURATIONS, initial="7d")
    reason = forms.CharField(max_length=300, required=False)


class BanForm(forms.Form):
    kind = forms.ChoiceField(choices=BanKind.choices)
    value = forms.CharField(
        max_length=254,
        help_text=(
            "A commenter id (the # after a name in the queue), an email address, or a client "
            "hash (in full)."
        ),
    )
    duration = forms.ChoiceField(choices=DURATIONS, initial="7d")
    reason = forms.CharField(max_length=300, required=False)


class UndoForm(forms.Form):
    # The other entries of the same action (a ban of an author: its bans and the rejection).
    entry = IdsField(required=False)


class SearchForm(forms.Form):
    q = forms.CharField(max_length=200, required=False, label="Text, name or email")
    status = forms.ChoiceField(
        choices=[("", "Any status")]
        + [(value, label) for value, label in CommentStatus.choices if value != "deleted"],
        required=False,
    )


def _words(help_text: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=help_text,
    )


class RulesForm(forms.Form):
    """A site's moderation rules (``sites.actions.RULE_FIELDS``). Only types are checked here;
    ``do_set_moderation_rules`` checks the values and names the field it refuses."""

    banned_words = _words("One word or phrase a line. A comment with one is refused.")
    suspect_words = _words("One word or phrase a line. A comment with one waits for a moderator.")
    max_links = forms.IntegerField(
        label="Most links", help_text="A comment with more links waits (0 to 100)."
    )
    toxicity_threshold = forms.FloatField(
        help_text=(
            "A comment the toxicity model scores at or above this waits (above 0 to 1; 1: off)."
        )
    )
    new_commenter_burst = forms.IntegerField(
        help_text=(
            "A new commenter's comments in ten minutes after which the next one waits "
            "(0: no limit)."
        )
    )
    flag_threshold = forms.IntegerField(
        label="Reports threshold",
        help_text="Reader reports that take a visible comment to the queue (1 to 1000).",
    )
    akismet_key = forms.CharField(
        required=False,
        label="Akismet key",
        help_text="When set, Akismet is asked about every comment (its address goes to Akismet).",
    )

    @staticmethod
    def initial_for(site: Site) -> dict[str, Any]:
        return {
            "banned_words": "\n".join(site.banned_words),
            "suspect_words": "\n".join(site.suspect_words),
            "max_links": site.max_links,
            "toxicity_threshold": site.toxicity_threshold,
            "new_commenter_burst": site.new_commenter_burst,
            "flag_threshold": site.flag_threshold,
            "akismet_key": site.akismet_key,
        }
