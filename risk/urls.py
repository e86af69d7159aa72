from django.urls import path

from . import apis

urlpatterns = [
    path("policies", apis.PolicyListApi.as_view(), name="risk-policies"),
    path("policies/upsert", apis.PolicyUpsertApi.as_view(), name="risk-policy-upsert"),
    path("reserve", apis.ReserveApi.as_view(), name="risk-reserve"),
    path("settle", apis.SettleApi.as_view(), name="risk-settle"),
    path("release", apis.ReleaseApi.as_view(), name="risk-release"),
    path("ledger/today", apis.LedgerApi.as_view(), name="risk-ledger"),
]
