import pytest

from golive import services
from tests.faults import unreachable_database

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.golive.urls")]

STATE_UNAVAILABLE = {
    "ok": False,
    "reason": "state_unavailable",
    "scope": None,
    "engaged_by": None,
    "detail": "state_unavailable",
}


def test_prod_exec_view__kill_switch_engaged__refused_on_next_request(client, operator, live):
    assert client.post("/engine/place-offer").status_code == 200
    services.set_kill_switch(engaged=True, reason="drill", actor=operator)
    response = client.post("/engine/place-offer")
    assert response.status_code == 423
    assert response.json() == {
        "ok": False, "reason": "kill_switch", "scope": "global", "engaged_by": "op",
        "detail": "kill_switch, scope: global, by op: drill",
    }  # fmt: skip


@pytest.mark.parametrize("path", ["/engine/route-capital", "/engine/match-buyer"])
def test_prod_exec_drf_view__go_live_disabled__423(client, path):
    response = client.post(path)
    assert (response.status_code, response.json()["reason"]) == (423, "go_live_disabled")


PROD_EXEC_METHODS = [
    "/engine/offer-view",  # @execution_class on a class-based view's method
    "/engine/bid-view",  # method_decorator(execution_class(...), name="post") on the class
    "/engine/route",  # method_decorator on an APIView's method
    "/engine/capital/allocate",  # above a ViewSet's @action
    "/engine/capital/rebalance",  # below a ViewSet's @action
    "/engine/capital",  # on a ViewSet's create
]


@pytest.mark.parametrize("path", PROD_EXEC_METHODS)
def test_prod_exec_on_a_method__kill_switch_engaged__423(client, operator, live, path):
    assert client.post(path).status_code in (200, 201)
    services.set_kill_switch(engaged=True, reason="drill", actor=operator)
    response = client.post(path)
    assert response.status_code == 423
    assert response.json() | {"ok": False, "reason": "kill_switch", "scope": "global"} == response.json()


@pytest.mark.parametrize("path", ["/engine/offer-view", "/engine/capital"])
def test_prod_exec_on_one_method__other_methods__served_while_production_off(client, path):
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 423


def test_prod_exec_under_api_view__live__served(client, live):
    assert client.post("/engine/match-buyer").json() == {"matched": True}


def test_prod_exec_header__kill_switch_engaged__refused_on_next_request(client, operator, live):
    assert client.get("/engine/offers", HTTP_X_EXECUTION_CLASS="PROD_EXEC").status_code == 200
    services.set_kill_switch(engaged=True, reason="drill", actor=operator)
    response = client.get("/engine/offers", HTTP_X_EXECUTION_CLASS="PROD_EXEC")
    assert (response.status_code, response.json()["reason"]) == (423, "kill_switch")


def test_prod_read_and_sandbox__production_off__served(client):
    assert client.get("/engine/offers").status_code == 200
    assert client.get("/engine/offers", HTTP_X_EXECUTION_CLASS="PROD_READ").status_code == 200
    assert client.post("/engine/sandbox-offer").status_code == 200


def test_weaker_header__on_prod_exec_view__still_refused(client):
    response = client.post("/engine/place-offer", HTTP_X_EXECUTION_CLASS="SANDBOX")
    assert response.status_code == 423


def test_unknown_header_value__400_naming_header(client):
    response = client.get("/engine/offers", HTTP_X_EXECUTION_CLASS="YOLO")
    assert response.status_code == 400
    assert response.json()["field"] == "X-Execution-Class"


def test_admin_and_governance_api__prod_exec_header__never_blocked(api, operator):
    services.set_kill_switch(engaged=True, reason="drill", actor=operator)
    client = api(operator)
    response = client.post(
        "/api/governance/go-live/kill-switch",
        {"engaged": False, "reason": "recover"},
        format="json",
        HTTP_X_EXECUTION_CLASS="PROD_EXEC",
    )
    assert response.status_code == 200
    client.force_login(operator)
    assert client.get("/admin/", HTTP_X_EXECUTION_CLASS="PROD_EXEC").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_prod_exec__database_unreachable__refused_state_unavailable(client, operator, live):
    assert client.post("/engine/place-offer").status_code == 200
    with unreachable_database():
        response = client.post("/engine/place-offer")
    assert response.status_code == 423
    assert response.json() == STATE_UNAVAILABLE
    assert client.post("/engine/place-offer").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_check_endpoint__database_unreachable__423_state_unavailable_not_500(api, engine, live):
    client = api(engine)
    assert client.get("/api/governance/go-live/check").status_code == 204
    with unreachable_database():
        response = client.get("/api/governance/go-live/check")
    assert response.status_code == 423
    assert response.json() == STATE_UNAVAILABLE


def test_unknown_header_value__on_the_admin_too__400(client, operator):
    client.force_login(operator)
    assert client.get("/admin/", HTTP_X_EXECUTION_CLASS="bogus").status_code == 400


@pytest.mark.parametrize("path", ["/engine/place-offer", "/engine/route-capital"])
def test_prod_exec__api_token_of_a_killed_engine__423_naming_the_engine_scope(api, operator, engine, live, path):
    # DRF authenticates token requests in the view, after the middleware decided: the middleware
    # reads the token itself, so an engine's kill refuses it whatever view it calls.
    services.set_kill_switch(engaged=True, scope="engine", target=engine.username, reason="drill", actor=operator)
    response = api(engine).post(path)
    assert response.status_code == 423
    assert response.json() | {"reason": "kill_switch", "scope": "engine engine-bot"} == response.json()
    assert api(None).post(path).status_code == 200  # an anonymous caller is not that engine


def test_prod_exec__bad_api_token__decided_without_an_engine(client, live):
    response = client.post("/engine/place-offer", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 200  # the gate decides for no engine; the view's own auth refuses
