from django.apps import AppConfig


class DiscussionsConfig(AppConfig):
    name = "townhall.discussions"
    label = "townhall_discussions"
