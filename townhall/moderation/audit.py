"""The audit log's one writer. Called inside the transaction of the action it records."""

from __future__ import annotations

from typing import Any

from townhall.moderation.models import AuditEntry


def audit(
    site_id: int,
    action: str,
    *,
    actor: Any = None,
    comment: Any = None,
    ban: Any = None,
    from_status: str = "",
    to_status: str = "",
    detail: dict | None = None,
    undoes: AuditEntry | None = None,
) -> AuditEntry:
    """Precondition: inside the transaction of the change it records. ``actor`` None is the
    pipeline (or a reader's reports)."""
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        site_id=site_id,
        actor=user,
        action=action,
        comment=comment,
        ban=ban,
        from_status=from_status,
        to_status=to_status,
        detail=detail or {},
        undoes=undoes,
    )
