from django.urls import path

from governance_site.policy_apis import paths

from . import apis

urlpatterns = [
    *paths(apis),
    path("state", apis.StateListApi.as_view(), name="regression-state"),
    path("evaluate", apis.EvaluateApi.as_view(), name="regression-evaluate"),
    path("kpi", apis.KpiRecordApi.as_view(), name="regression-kpi"),
    path("kpi/batch", apis.KpiBatchApi.as_view(), name="regression-kpi-batch"),
    path("reset", apis.ResetApi.as_view(), name="regression-reset"),
    path("acknowledge", apis.AcknowledgeApi.as_view(), name="regression-acknowledge"),
    path("cascade", apis.CascadeListApi.as_view(), name="regression-cascade"),
    path("cascade/upsert", apis.CascadeUpsertApi.as_view(), name="regression-cascade-upsert"),
    path("rebaseline", apis.RebaselineApi.as_view(), name="regression-rebaseline"),
    path("rebaseline/undo", apis.RebaselineUndoApi.as_view(), name="regression-rebaseline-undo"),
    path("backtest", apis.BacktestApi.as_view(), name="regression-backtest"),
]
