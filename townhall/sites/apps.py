from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "townhall.sites"
    label = "townhall_sites"

    def ready(self) -> None:
        from townhall.sites import signals  # noqa: F401  (connects the CORS origin check)
