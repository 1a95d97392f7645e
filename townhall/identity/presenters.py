from __future__ import annotations

from townhall.identity.models import Commenter
from townhall.identity.tokens import make_session_token


def commenter_dict(commenter: Commenter) -> dict:
    from townhall.moderation.models import SiteModerator

    moderator = commenter.staff_user_id is not None and (
        SiteModerator.objects.filter(
            user_id=commenter.staff_user_id, site_id=commenter.site_id
        ).exists()
    )
    return {
        "id": commenter.pk,
        "name": commenter.display_name,
        "email": commenter.email,
        "avatar": commenter.avatar_url,
        "kind": commenter.kind,
        "moderator": moderator,
        "email_confirmed": commenter.email_confirmed is not None,
    }


def signed_in(commenter: Commenter) -> dict:
    return {"session_token": make_session_token(commenter), "commenter": commenter_dict(commenter)}
