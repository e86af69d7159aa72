from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "Risk Guard"

    def ready(self):
        from . import services

        services.connect_signals()
