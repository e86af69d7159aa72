"""The database unreachable: every endpoint answers JSON; decisions fail closed, the rest 503."""

import contextlib
from unittest import mock

import pytest
from django.db import OperationalError

from regression import services
from regression.models import KpiEvent
from tests.endpoints import api_endpoints
from tests.faults import unreachable_database

pytestmark = pytest.mark.django_db(transaction=True)

DECISIONS = {
    "/api/governance/go-live/check": ("get", 423, {"ok": False, "reason": "state_unavailable"}),
    "/api/governance/risk/reserve": (
        "post",
        200,
        {"ok": False, "reason": "state_unavailable", "reservation_id": None, "expires_at": None},
    ),
    "/api/governance/heimdall/check": (
        "post",
        200,
        {"prod_eligible": False, "reason": "state_unavailable", "trials": None, "success_rate": None},
    ),
}
OTHERS = [
    (method, path)
    for method in ("get", "post")
    for path in api_endpoints(method)
    if path not in DECISIONS or DECISIONS[path][0] != method
]


@pytest.mark.parametrize("path", sorted(DECISIONS))
def test_decision__database_unreachable__fails_closed_state_unavailable(api, engine, path):
    method, status, body = DECISIONS[path]
    client, body_in = api(engine), {"domain": "WHOLESALE", "amount": "1", "confidence": 0.9}
    with unreachable_database():
        response = getattr(client, method)(path, body_in, format="json")
    assert response.status_code == status
    assert body.items() <= response.json().items()  # the answer may say more (a detail, the scope)


@pytest.mark.parametrize(("method", "path"), OTHERS)
def test_other_endpoints__database_unreachable__503_json_with_retry_after(api, operator, method, path):
    client = api(operator)
    with unreachable_database():
        response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == 503, response.content[:300]
    assert response.json() == {
        "detail": "The control plane's state cannot be read now; try again later.",
        "field": None,
        "reason": "state_unavailable",
    }
    assert int(response["Retry-After"]) > 0


def test_admin__database_unreachable__503_not_a_500(client, operator):
    client.force_login(operator)
    with unreachable_database():
        response = client.get("/admin/")
    assert response.status_code == 503
    assert response.json()["reason"] == "state_unavailable"


def test_database_back__answers_again(api, engine):
    client = api(engine)
    with unreachable_database():
        assert client.get("/api/governance/go-live/state").status_code == 503
    assert client.get("/api/governance/go-live/state").status_code == 200


EVENT = {"domain": "WHOLESALE", "metric": "contract_rate", "success": True, "event_id": "after-commit-1"}


@pytest.mark.parametrize(("path", "body", "service"), [("/api/governance/regression/kpi", EVENT, "record_kpi"),
                                                       ("/api/governance/regression/kpi/batch", [EVENT],
                                                        "record_kpi_batch")])  # fmt: skip
def test_kpi__database_lost_after_the_commit__stored_events_acknowledged(api, engine, path, body, service, caplog):
    """Once the events are committed, the answer says they are stored (201), whatever fails after:
    the hand-over of the watching tripwire's evaluation (run after the commit; the failure is
    logged) and any read. Both were a 503 or a 500, so an engine took stored events for refused ones."""
    services.upsert_policy(domain="WHOLESALE", metric="contract_rate", changes={"enabled": True}, actor="tests/setup")
    record, lost = getattr(services, service), contextlib.ExitStack()

    def record_then_lose_the_database(**kwargs):
        result = record(**kwargs)
        lost.enter_context(unreachable_database())
        return result

    gone = OperationalError("server closed the connection unexpectedly")
    with (
        lost,
        mock.patch.object(services, "_send_evaluations", side_effect=gone),
        mock.patch.object(services, service, record_then_lose_the_database),
    ):
        response = api(engine).post(path, body, format="json")
    assert response.status_code == 201, response.content[:300]
    assert KpiEvent.objects.filter(event_id="after-commit-1").count() == 1
    assert "server closed the connection unexpectedly" in caplog.text
