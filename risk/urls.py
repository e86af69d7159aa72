from django.urls import path

from governance_site.policy_apis import paths

from . import apis

urlpatterns = [
    *paths(apis),
    path("firm-policy", apis.FirmPolicyListApi.as_view(), name="risk-firm-policy"),
    path("firm-policy/upsert", apis.FirmPolicyUpsertApi.as_view(), name="risk-firm-policy-upsert"),
    path("reserve", apis.ReserveApi.as_view(), name="risk-reserve"),
    path("settle", apis.SettleApi.as_view(), name="risk-settle"),
    path("release", apis.ReleaseApi.as_view(), name="risk-release"),
    path("ledger/today", apis.LedgerApi.as_view(), name="risk-ledger"),
]
