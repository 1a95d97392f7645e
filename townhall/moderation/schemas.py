from __future__ import annotations

from ninja import Field, Schema

from townhall.moderation.models import FlagReason


class FlagIn(Schema):
    reason: FlagReason = Field(..., description="Why the reader reports the comment.")
    note: str = Field("", max_length=500, description="Optional words for the moderators.")


class FlagOut(Schema):
    reported: bool = Field(..., description="Always true: the report is recorded once a reader.")
