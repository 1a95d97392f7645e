"""What other parts of Townhall may react to. Sent after the transaction commits."""

from django.dispatch import Signal

# A comment became visible to readers: posted visible, or approved by a moderator.
# Arguments: comment_id, thread_id.
comment_published = Signal()

# A new comment waits for a moderator. Arguments: comment_id.
comment_held = Signal()
