from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "townhall.notifications"
    label = "townhall_notifications"

    def ready(self) -> None:
        from townhall.notifications import signals  # noqa: F401  (connects the receivers)
