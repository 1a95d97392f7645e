from django.dispatch import receiver

from townhall.discussions.signals import comment_held, comment_published


@receiver(comment_published)
def queue_notifications(sender, comment_id: int, **kwargs) -> None:
    """Sent after the commit that made a comment visible (posted, or approved later)."""
    from townhall.notifications.tasks import fan_out_comment

    fan_out_comment.enqueue(comment_id)


@receiver(comment_held)
def queue_moderator_alert(sender, comment_id: int, **kwargs) -> None:
    from townhall.notifications.tasks import alert_moderators

    alert_moderators.enqueue(comment_id)
