from governance_site.routes import routes

from . import apis

urlpatterns = routes(
    apis,
    {
        "state": apis.StateListApi,
        "evaluate": apis.EvaluateApi,
        "kpi": apis.KpiRecordApi,
        "kpi/batch": apis.KpiBatchApi,
        "reset": apis.ResetApi,
        "acknowledge": apis.AcknowledgeApi,
        "cascade": apis.CascadeListApi,
        "cascade/upsert": apis.CascadeUpsertApi,
        "rebaseline": apis.RebaselineApi,
        "rebaseline/undo": apis.RebaselineUndoApi,
        "backtest": apis.BacktestApi,
    },
)
