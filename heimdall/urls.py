from django.urls import path

from governance_site.policy_apis import paths

from . import apis

urlpatterns = [
    *paths(apis),
    path("trials", apis.TrialRecordApi.as_view(), name="heimdall-trials"),
    path("check", apis.CheckApi.as_view(), name="heimdall-check"),
    path("scorecard/today", apis.ScorecardApi.as_view(), name="heimdall-scorecard"),
]
