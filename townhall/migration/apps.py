from django.apps import AppConfig


class MigrationConfig(AppConfig):
    name = "townhall.migration"
    label = "townhall_migration"
    verbose_name = "Migration (import and export)"
