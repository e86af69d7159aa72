from django.urls import path

from . import apis

urlpatterns = [
    path("<int:alert_id>/acknowledge", apis.AlertAcknowledgeApi.as_view(), name="alerts-acknowledge"),
]
