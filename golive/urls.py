from governance_site.routes import routes

from . import apis

urlpatterns = routes(
    apis,
    {
        "state": apis.GoLiveStateApi,
        "kill-switch": apis.KillSwitchApi,
        "enable": apis.GoLiveEnableApi,
        "check": apis.GoLiveCheckApi,
        "heartbeat": apis.HeartbeatApi,
    },
)
