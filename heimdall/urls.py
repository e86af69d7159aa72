from governance_site.routes import routes

from . import apis

urlpatterns = routes(
    apis, {"trials": apis.TrialRecordApi, "check": apis.CheckApi, "scorecard/today": apis.ScorecardApi}
)
