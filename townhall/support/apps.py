from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "townhall.support"
    label = "townhall_support"
