from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "townhall.moderation"
    label = "townhall_moderation"
