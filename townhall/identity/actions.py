from __future__ import annotations

from townhall.core.db import insert
from townhall.identity.models import Commenter, CommenterKind
from townhall.sites.models import Site


def do_create_guest(site: Site, *, display_name: str, email: str = "") -> Commenter:
    """Creates a guest commenter. Caller holds the transaction that also writes the comment.

    Written with one lean INSERT (``core.db``): a new guest comes with most posts, inside the
    transaction that holds SQLite's write lock.
    """
    commenter = Commenter(
        site=site, kind=CommenterKind.GUEST, display_name=display_name, email=email
    )
    insert(commenter)
    return commenter


def do_update_guest(commenter: Commenter, *, display_name: str, email: str) -> None:
    """Keeps a returning guest's name and email as they last gave them."""
    if (commenter.display_name, commenter.email) != (display_name, email):
        commenter.display_name = display_name
        commenter.email = email
        commenter.save(update_fields=["display_name", "email"])
