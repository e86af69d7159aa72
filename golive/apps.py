from django.apps import AppConfig


class GoLiveConfig(AppConfig):
    name = "golive"
    verbose_name = "Go-Live"

    def ready(self):
        from . import checks  # noqa: F401  (registers the start-up check)
