from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "townhall.widget"
    label = "townhall_widget"
