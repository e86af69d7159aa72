from governance_site.routes import routes

from . import apis

urlpatterns = routes(
    apis,
    {
        "firm-policy": apis.FirmPolicyListApi,
        "firm-policy/upsert": apis.FirmPolicyUpsertApi,
        "reserve": apis.ReserveApi,
        "settle": apis.SettleApi,
        "release": apis.ReleaseApi,
        "ledger/today": apis.LedgerApi,
    },
)
