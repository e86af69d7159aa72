import datetime as dt

import pytest

from governance_site.audit.models import AuditEvent
from risk import services
from risk.models import Reservation, RiskPolicy, Status

pytestmark = pytest.mark.django_db

GOV = "/api/governance/risk"
POLICIES, UPSERT = f"{GOV}/policies", f"{GOV}/policies/upsert"
RESERVE, SETTLE, RELEASE, LEDGER = f"{GOV}/reserve", f"{GOV}/settle", f"{GOV}/release", f"{GOV}/ledger/today"


@pytest.fixture
def reserved(live, make_policy):
    make_policy()
    return services.reserve(domain="WHOLESALE", amount="100", actor="engine/test")


# Permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [POLICIES, LEDGER])
@pytest.mark.parametrize(("role", "status"), [("viewer", 200), ("engine", 200), ("nobody", 403)])
def test_reads__by_role(api, request, path, role, status):
    assert api(request.getfixturevalue(role)).get(path).status_code == status


@pytest.mark.parametrize("path", [POLICIES, UPSERT, RESERVE, SETTLE, RELEASE, LEDGER])
def test_every_endpoint__anonymous__401(api, path):
    assert api(None).post(path, {}, format="json").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "engine", "nobody"])
def test_upsert__not_operator__403_and_nothing_written(api, request, role):
    response = api(request.getfixturevalue(role)).post(UPSERT, {"domain": "X", "enabled": True}, format="json")
    assert response.status_code == 403
    assert not RiskPolicy.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("nobody", 403), ("engine", 200), ("operator", 200)])
@pytest.mark.parametrize("path", [RESERVE, SETTLE, RELEASE])
def test_engine_writes__by_role(api, request, reserved, role, status, path):
    body = {RESERVE: {"domain": "WHOLESALE", "amount": "1"}}.get(path, {"reservation_id": reserved.pk})
    body = {**body, "realized_pnl": "1"} if path == SETTLE else body
    assert api(request.getfixturevalue(role)).post(path, body, format="json").status_code == status


# Policies ------------------------------------------------------------------------------------


def test_upsert__create_then_subset__policy_and_audit_events(api, operator):
    client = api(operator)
    body = {"domain": "wholesale", "max_daily_loss": "500.25", "max_open_exposure": 2000, "max_daily_actions": 10}
    created = client.post(UPSERT, {**body, "reason": "launch caps"}, format="json")
    assert created.status_code == 201, created.json()  # 201 on create, 200 on update: every lever
    assert created.json() | {"updated_at": None} == {
        "domain": "WHOLESALE",
        "enabled": False,  # a new policy starts disabled: enabling it is a deliberate step
        "max_daily_loss": "500.2500",
        "max_open_exposure": "2000.0000",
        "max_daily_actions": 10,
        "max_action_amount": None,
        "reservation_ttl_seconds": 900,
        "changed_by": "op",
        "updated_at": None,
    }
    changed = client.post(UPSERT, {"domain": "WHOLESALE", "max_action_amount": "50"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["max_action_amount"] == "50.0000"
    assert changed.json()["max_daily_actions"] == 10
    cleared = client.post(UPSERT, {"domain": "WHOLESALE", "max_action_amount": None}, format="json")
    assert cleared.json()["max_action_amount"] is None
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.actor, e.lever, e.reason) for e in events] == [
        ("policy.create", "op", "risk", "launch caps"),
        ("policy.update", "op", "risk", ""),
        ("policy.update", "op", "risk", ""),
    ]
    assert (events[1].before["max_action_amount"], events[1].after["max_action_amount"]) == (None, "50.0000")
    listed = client.get(POLICIES).json()
    assert [p["domain"] for p in listed["results"]] == ["WHOLESALE"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "domain"),
        ({"domain": "no spaces"}, "domain"),
        ({"domain": "A" * 65}, "domain"),
        ({"domain": "X", "max_daily_loss": "-1"}, "max_daily_loss"),
        ({"domain": "X", "max_open_exposure": "NaN"}, "max_open_exposure"),
        ({"domain": "X", "max_open_exposure": "Infinity"}, "max_open_exposure"),
        ({"domain": "X", "max_daily_actions": -1}, "max_daily_actions"),
        ({"domain": "X", "max_daily_actions": "ten"}, "max_daily_actions"),
        ({"domain": "X", "max_action_amount": "0"}, "max_action_amount"),
        ({"domain": "X", "reservation_ttl_seconds": 0}, "reservation_ttl_seconds"),
        ({"domain": "X", "enabled": "perhaps"}, "enabled"),
    ],
)
def test_upsert__bad_input__400_naming_field_and_nothing_written(api, operator, body, field):
    response = api(operator).post(UPSERT, body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not RiskPolicy.objects.exists() and not AuditEvent.objects.exists()


# Reserve, settle, release --------------------------------------------------------------------


def test_reserve__approved__200_with_decision(api, engine, live, make_policy):
    make_policy()
    response = api(engine).post(RESERVE, {"domain": "wholesale", "amount": 12.5, "ref": "offer-1"}, format="json")
    assert response.status_code == 200
    entry = Reservation.objects.get()
    assert response.json() == {
        "ok": True,
        "reason": None,
        "reservation_id": entry.pk,
        "expires_at": response.json()["expires_at"],
    }
    assert dt.datetime.fromisoformat(response.json()["expires_at"]) == entry.expires_at
    assert (entry.actor, entry.ref) == ("engine-bot", "offer-1")


def test_reserve__denied__200_ok_false_with_reason(api, engine, make_policy):
    make_policy()
    response = api(engine).post(RESERVE, {"domain": "WHOLESALE", "amount": "1"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "ok": False,
        "reason": "go_live_disabled",
        "reservation_id": Reservation.objects.get().pk,
        "expires_at": None,
    }


def test_reserve__idempotency_key__same_response_then_422_on_other_amount(api, engine, live, make_policy):
    make_policy()
    client = api(engine)
    body = {"domain": "WHOLESALE", "amount": "10", "idempotency_key": "abc"}
    first, again = (client.post(RESERVE, body, format="json") for _ in range(2))
    assert first.json() == again.json()
    other = client.post(RESERVE, {**body, "amount": "11"}, format="json")
    assert other.status_code == 422
    assert (other.json()["field"], other.json()["reason"]) == ("idempotency_key", "idempotency_key_reused")
    assert Reservation.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "1"}, "domain"),
        ({"domain": "bad-domain", "amount": "1"}, "domain"),
        ({"domain": "W"}, "amount"),
        ({"domain": "W", "amount": None}, "amount"),
        ({"domain": "W", "amount": "-1"}, "amount"),
        ({"domain": "W", "amount": 0}, "amount"),
        ({"domain": "W", "amount": "NaN"}, "amount"),
        ({"domain": "W", "amount": "Infinity"}, "amount"),
        ({"domain": "W", "amount": "-Infinity"}, "amount"),
        ({"domain": "W", "amount": "lots"}, "amount"),
        ({"domain": "W", "amount": True}, "amount"),
        ({"domain": "W", "amount": "1e30"}, "amount"),
        ({"domain": "W", "amount": "1", "idempotency_key": ""}, "idempotency_key"),
        ({"domain": "W", "amount": "1", "ref": "r" * 256}, "ref"),
    ],
)
def test_reserve__bad_input__400_naming_field_and_no_entry(api, engine, live, make_policy, body, field):
    make_policy("W")
    response = api(engine).post(RESERVE, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert field in response.json()["detail"]
    assert not Reservation.objects.exists()


@pytest.mark.parametrize(("path", "field"), [(RESERVE, "amount"), (SETTLE, "realized_pnl"), (UPSERT, "max_daily_loss")])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_writes__bare_nan_from_json_dumps__400_naming_field(api, operator, reserved, path, field, literal):
    body = f'{{"domain": "WHOLESALE", "reservation_id": {reserved.pk}, "{field}": {literal}}}'
    response = api(operator).post(path, body, content_type="application/json")
    assert (response.status_code, response.json()["field"]) == (400, field)
    assert Reservation.objects.count() == 1 and Reservation.objects.get().status == Status.RESERVED


def test_reserve__malformed_json__400(api, engine):
    response = api(engine).post(RESERVE, "{oops", content_type="application/json")
    assert response.status_code == 400


def test_settle__open__200_entry_then_same_again_then_409_on_other_pnl(api, engine, reserved):
    client = api(engine)
    first = client.post(SETTLE, {"reservation_id": reserved.pk, "realized_pnl": "-3.5"}, format="json")
    assert first.status_code == 200
    assert (first.json()["status"], first.json()["realized_pnl"]) == ("SETTLED", "-3.5000")
    again = client.post(SETTLE, {"reservation_id": reserved.pk, "realized_pnl": -3.5}, format="json")
    assert again.json() == first.json()
    other = client.post(SETTLE, {"reservation_id": reserved.pk, "realized_pnl": "4"}, format="json")
    assert (other.status_code, other.json()["reason"]) == (409, "reservation_closed")


def test_release__open__200_released(api, engine, reserved):
    response = api(engine).post(RELEASE, {"reservation_id": reserved.pk}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, "RELEASED")
    assert Reservation.objects.get().status == Status.RELEASED


@pytest.mark.parametrize("path", [SETTLE, RELEASE])
def test_settle_release__unknown_id__404(api, engine, path):
    response = api(engine).post(path, {"reservation_id": 424242, "realized_pnl": "1"}, format="json")
    assert response.status_code == 404
    assert response.json()["field"] == "reservation_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"realized_pnl": "1"}, "reservation_id"),
        ({"reservation_id": "abc", "realized_pnl": "1"}, "reservation_id"),
        ({"reservation_id": 0, "realized_pnl": "1"}, "reservation_id"),
        ({"reservation_id": 2**64, "realized_pnl": "1"}, "reservation_id"),
        ({"reservation_id": "RID"}, "realized_pnl"),
        ({"reservation_id": "RID", "realized_pnl": "NaN"}, "realized_pnl"),
        ({"reservation_id": "RID", "realized_pnl": "loss"}, "realized_pnl"),
    ],
)
def test_settle__bad_input__400_naming_field(api, engine, reserved, body, field):
    body = {k: reserved.pk if v == "RID" else v for k, v in body.items()}
    response = api(engine).post(SETTLE, body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Reservation.objects.get().status == Status.RESERVED


# Ledger --------------------------------------------------------------------------------------


def test_ledger__today_and_by_date__shape(api, viewer, reserved, clock):
    today = api(viewer).get(LEDGER)
    assert today.status_code == 200
    assert today.json() == {
        "date": reserved.business_date.isoformat(),
        "domains": [
            {
                "domain": "WHOLESALE",
                "approved_count": 1,
                "denied_count": 0,
                "denial_count_by_reason": {},
                "denied_ids": [],
                "open_exposure": "100.0000",
                "settled_count": 0,
                "released_count": 0,
                "expired_count": 0,
                "realized_pnl": "0.0000",
            }
        ],
    }
    yesterday = reserved.business_date - dt.timedelta(days=1)
    assert api(viewer).get(LEDGER, {"date": yesterday.isoformat()}).json() == {
        "date": yesterday.isoformat(),
        "domains": [],
    }


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "01/02/2026", "2026-06-01T00:00"])
def test_ledger__bad_date__400_naming_date(api, viewer, value):
    response = api(viewer).get(LEDGER, {"date": value})
    assert (response.status_code, response.json()["field"]) == (400, "date")


@pytest.mark.parametrize("domain", ["wholesaleß", "ıd", "ﬀ", "WHOLESALE\n", " WHOLESALE"])
def test_policy_upsert__domain_off_the_ascii_rule__400_naming_domain(api, operator, domain):
    response = api(operator).post(
        "/api/governance/risk/policies/upsert", {"domain": domain, "enabled": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "domain"


@pytest.mark.parametrize("amount", ["1_000", "١٠", "0x10", "1,000", "12 50"])
def test_reserve__amount_only_python_reads__400_naming_amount(api, engine, amount):
    response = api(engine).post(
        "/api/governance/risk/reserve", {"domain": "WHOLESALE", "amount": amount}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "amount"
