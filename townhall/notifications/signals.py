from django.dispatch import receiver

from townhall.discussions.signals import comment_held, comment_published
from townhall.notifications.queries import thread_has_confirmed_subscriptions


@receiver(comment_published)
def queue_notifications(sender, comment_id: int, thread_id: int, **kwargs) -> None:
    """Sent after the commit that made a comment visible (posted, or approved later).

    The fan-out task is queued only when someone could receive it (``_recipients`` reads
    confirmed subscriptions of the thread): on most threads nobody has subscribed, and queuing a
    task is a write, which on SQLite waits for the database's one write lock again.
    """
    from townhall.notifications.tasks import fan_out_comment

    if thread_has_confirmed_subscriptions(thread_id):
        fan_out_comment.enqueue(comment_id)


@receiver(comment_held)
def queue_moderator_alert(sender, comment_id: int, **kwargs) -> None:
    from townhall.notifications.tasks import alert_moderators

    alert_moderators.enqueue(comment_id)
