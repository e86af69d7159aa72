"""Login and API throttling; the gate keeps answering under a flood."""

import pytest

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
CHECK = "/api/governance/go-live/check"


def login(client, password, address="203.0.113.7"):
    return client.post(LOGIN, {"username": "op", "password": password}, REMOTE_ADDR=address)


def test_admin_login__after_60_wrong_passwords__the_right_one_refused_429(client, operator):
    for attempt in range(60):
        assert login(client, f"wrong-{attempt}").status_code in (200, 429)
    response = login(client, "pw-op")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_admin_login__a_few_wrong_passwords__the_right_one_logs_in(client, operator):
    for attempt in range(2):
        assert login(client, f"wrong-{attempt}").status_code == 200
    assert login(client, "pw-op").status_code == 302
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_admin_login_flood__the_gate_keeps_answering(client, api, engine, operator, live):
    gate = api(engine)
    for attempt in range(100):
        login(client, f"wrong-{attempt}", address=f"203.0.113.{attempt % 32}")
        if attempt % 10 == 0:
            assert gate.get(CHECK).status_code == 204
    assert (
        gate.post("/api/governance/heimdall/check", {"domain": "X", "confidence": 0.9}, format="json").json()[
            "prod_eligible"
        ]
        is False
    )
    assert gate.post("/api/governance/risk/reserve", {"domain": "X", "amount": "1"}, format="json").status_code == 200


def rates(settings, **rates):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_api__per_token_rate_exceeded__429_json_with_retry_after(settings, api, operator, viewer):
    rates(settings, token="3/min", address="100/min")
    client = api(viewer)
    assert [client.get("/api/governance/go-live/state").status_code for _ in range(3)] == [200] * 3
    response = client.get("/api/governance/go-live/state")
    assert response.status_code == 429
    assert response.json()["field"] is None and response.json()["reason"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert api(operator).get("/api/governance/go-live/state").status_code == 200  # another token


def test_api__per_address_rate_exceeded__429_whatever_the_token(settings, api, operator, viewer):
    rates(settings, token="100/min", address="4/min")
    for user in (operator, viewer):
        for _ in range(2):
            assert api(user).get("/api/governance/go-live/state", REMOTE_ADDR="198.51.100.1").status_code == 200
    response = api(operator).get("/api/governance/go-live/state", REMOTE_ADDR="198.51.100.1")
    assert response.status_code == 429
    assert api(operator).get("/api/governance/go-live/state", REMOTE_ADDR="198.51.100.2").status_code == 200


def test_api__anonymous_guesses__throttled_per_address(settings, api):
    rates(settings, token="100/min", address="3/min")
    bad = api(None)
    bad.credentials(HTTP_AUTHORIZATION="Token guessed")
    assert [bad.get("/api/governance/go-live/state").status_code for _ in range(4)] == [401, 401, 401, 429]


def test_api__rates_exhausted__the_gate_still_answers(settings, api, engine, live):
    rates(settings, token="1/min", address="1/min")
    client = api(engine)
    client.get("/api/governance/go-live/state")
    assert client.get("/api/governance/go-live/state").status_code == 429
    assert [client.get(CHECK).status_code for _ in range(5)] == [204] * 5
    for _ in range(3):
        reserve = client.post("/api/governance/risk/reserve", {"domain": "X", "amount": "1"}, format="json")
        assert reserve.status_code == 200
        heimdall = client.post("/api/governance/heimdall/check", {"domain": "X", "confidence": 0.5}, format="json")
        assert heimdall.status_code == 200
