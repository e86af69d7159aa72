from django.urls import path

from . import apis

urlpatterns = [
    path("policies", apis.PolicyListApi.as_view(), name="heimdall-policies"),
    path("policies/upsert", apis.PolicyUpsertApi.as_view(), name="heimdall-policy-upsert"),
    path("trials", apis.TrialRecordApi.as_view(), name="heimdall-trials"),
    path("check", apis.CheckApi.as_view(), name="heimdall-check"),
    path("scorecard/today", apis.ScorecardApi.as_view(), name="heimdall-scorecard"),
]
