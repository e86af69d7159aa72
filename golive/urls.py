from django.urls import path

from . import apis

urlpatterns = [
    path("state", apis.GoLiveStateApi.as_view(), name="golive-state"),
    path("kill-switch", apis.KillSwitchApi.as_view(), name="golive-kill-switch"),
    path("enable", apis.GoLiveEnableApi.as_view(), name="golive-enable"),
    path("check", apis.GoLiveCheckApi.as_view(), name="golive-check"),
    path("heartbeat", apis.HeartbeatApi.as_view(), name="golive-heartbeat"),
]
