from __future__ import annotations

from typing import Literal

from ninja import Field, Schema


class SubscribeIn(Schema):
    site: str = Field(..., min_length=1, max_length=64)
    url: str = Field(..., min_length=1, max_length=2048, description="The article's URL.")
    title: str = Field("", max_length=2000)
    email: str = Field(..., max_length=254)
    kind: Literal["thread", "replies"] = Field(
        "thread", description="thread: new follow-up comments; replies: new replies to my comments"
    )
    frequency: Literal["immediate", "hourly", "daily"] | None = Field(
        None, description="For a new address; a confirmed one keeps what its owner chose."
    )


class SubscribedOut(Schema):
    status: Literal["accepted"]
    message: str
    receipt: str = Field(..., description="POST it to /subscriptions/cancel to undo this request.")


class CancelIn(Schema):
    receipt: str = Field(..., max_length=500)
