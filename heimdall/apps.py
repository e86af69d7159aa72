from django.apps import AppConfig


class HeimdallConfig(AppConfig):
    name = "heimdall"
    verbose_name = "Heimdall Charter"
