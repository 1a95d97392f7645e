from __future__ import annotations

from ninja import Field, Schema


class MagicLinkIn(Schema):
    site: str = Field(..., min_length=1, max_length=64, description="The site's slug.")
    email: str = Field(..., min_length=3, max_length=254)
    name: str = Field("", max_length=80, description="The name to comment under (first time).")
    return_url: str = Field(
        ...,
        max_length=2048,
        description="The article page to come back to; on one of the site's allowed origins. "
        "The link is `return_url#townhall-signin=<token>`.",
    )


class AcceptedOut(Schema):
    status: str = Field("accepted", description="The same answer whether or not mail is sent.")


class SignInTokenIn(Schema):
    site: str = Field(..., min_length=1, max_length=64)
    token: str = Field(..., min_length=1, max_length=8192)


class CommenterOut(Schema):
    id: int
    name: str
    email: str
    avatar: str = Field(..., description="An http(s) URL, or empty.")
    kind: str = Field(..., description="guest, email or sso")
    moderator: bool = Field(..., description="Moderates this site (SSO role).")
    email_confirmed: bool


class SignedInOut(Schema):
    session_token: str = Field(
        ...,
        description="Send as `Authorization: Bearer …`; valid 30 days, until sign-out "
        "everywhere or deletion.",
    )
    commenter: CommenterOut


class ClaimIn(Schema):
    site: str = Field(..., min_length=1, max_length=64)
    edit_token: str | None = Field(None, description="A guest identity's edit token to claim.")


class ClaimOut(Schema):
    claimed: int = Field(..., description="How many comments moved to the signed-in identity.")


class DeleteMeIn(Schema):
    confirm: bool = Field(..., description="Must be true.")


class DeletedOut(Schema):
    comments: int
    votes: int
    subscriptions: int
