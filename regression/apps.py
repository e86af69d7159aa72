from django.apps import AppConfig


class RegressionConfig(AppConfig):
    name = "regression"
    verbose_name = "Regression Tripwire"
