from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "townhall.live"
    label = "townhall_live"
