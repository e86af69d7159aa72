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
def reserved(live, make_policy, engine):
    """An open reservation of the `engine` fixture's user (only it, or an operator, may close it)."""
    make_policy()
    return services.reserve(domain="WHOLESALE", amount="100", actor=engine)


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
    assert created.json() | {"updated_at": None, "version": None} == {
        "domain": "WHOLESALE",
        "enabled": False,  # a new policy starts disabled: enabling it is a deliberate step
        "max_daily_loss": "500.2500",
        "max_open_exposure": "2000.0000",
        "max_daily_actions": 10,
        "max_action_amount": None,
        "reservation_ttl_seconds": 900,
        "max_actions_per_second": None,
        "max_actions_per_minute": None,
        "max_engine_actions_per_minute": None,
        "duplicate_window_seconds": None,
        "amount_collar_factor": None,
        "amount_collar_sample": 50,
        "changed_by": "op",
        "updated_at": None,
        "version": None,
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
        "detail": "",
        "status": "RESERVED",
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
        "detail": "go_live_disabled",
        "status": "DENIED",
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
                "cancelled_count": 0,
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


def test_reserve__replay_after_kill_switch__ok_false_cancelled_with_reason(api, engine, operator, live, make_policy):
    make_policy()
    client = api(engine)
    body = {"domain": "WHOLESALE", "amount": "10", "idempotency_key": "abc"}
    first = client.post(RESERVE, body, format="json").json()
    assert (first["ok"], first["status"], first["reason"]) == (True, "RESERVED", None)
    kill = api(operator).post("/api/governance/go-live/kill-switch", {"engaged": True, "reason": "t"}, format="json")
    assert kill.status_code == 200
    again = client.post(RESERVE, body, format="json").json()
    # The kill cancelled the open reservation: the replay answers that truth, never ok.
    detail = "kill_switch, scope: global, by op: t"
    assert again == {**first, "ok": False, "reason": "kill_switch", "status": "CANCELLED", "detail": detail}


def test_reserve__replay_after_expiry__ok_false_expired(api, engine, live, make_policy, clock):
    make_policy(reservation_ttl_seconds=60)
    client = api(engine)
    body = {"domain": "WHOLESALE", "amount": "10", "idempotency_key": "abc"}
    first = client.post(RESERVE, body, format="json").json()
    clock.advance(seconds=61)
    again = client.post(RESERVE, body, format="json").json()
    assert again == {**first, "ok": False, "status": "EXPIRED", "reason": "reservation_expired"}


def test_settle__huge_pnl__400_naming_realized_pnl_and_the_day_still_settles(api, engine, live, make_policy):
    make_policy()
    client = api(engine)
    first, second = (services.reserve(domain="WHOLESALE", amount="10", actor=engine) for _ in range(2))
    huge = client.post(SETTLE, {"reservation_id": first.pk, "realized_pnl": "-9999999999999999"}, format="json")
    assert (huge.status_code, huge.json()["field"]) == (400, "realized_pnl")
    for entry in (first, second):
        response = client.post(SETTLE, {"reservation_id": entry.pk, "realized_pnl": "-1"}, format="json")
        assert response.status_code == 200


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_upsert__blank_max_action_amount__400_and_the_cap_kept(api, operator, make_policy, blank):
    make_policy(max_action_amount="2500")
    response = api(operator).post(UPSERT, {"domain": "WHOLESALE", "max_action_amount": blank}, format="json")
    assert (response.status_code, response.json()["field"]) == (400, "max_action_amount")
    assert str(RiskPolicy.objects.get().max_action_amount) == "2500.0000"


def test_upsert__null_max_action_amount__removes_the_cap(api, operator, make_policy):
    make_policy(max_action_amount="2500")
    response = api(operator).post(UPSERT, {"domain": "WHOLESALE", "max_action_amount": None}, format="json")
    assert response.status_code == 200
    assert RiskPolicy.objects.get().max_action_amount is None


# Who may close a reservation -----------------------------------------------------------------


@pytest.fixture
def other_engine(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="other-bot", password="pw-other-bot")
    user.groups.add(Group.objects.get(name="engine"))
    return user


@pytest.mark.parametrize(("path", "body"), [(SETTLE, {"realized_pnl": "-5"}), (RELEASE, {})], ids=["settle", "release"])
def test_close__not_the_reserver__403_and_unchanged(api, engine, other_engine, live, make_policy, path, body):
    make_policy()
    reserved = api(engine).post(RESERVE, {"domain": "WHOLESALE", "amount": "10"}, format="json").json()
    response = api(other_engine).post(path, {"reservation_id": reserved["reservation_id"], **body}, format="json")
    assert response.status_code == 403
    assert (response.json()["field"], response.json()["reason"]) == ("reservation_id", "not_reservation_owner")
    entry = Reservation.objects.get()
    assert (entry.status, entry.realized_pnl, entry.settled_by) == (Status.RESERVED, None, "")
    assert api(engine).post(path, {"reservation_id": entry.pk, **body}, format="json").status_code == 200


def test_close__operator__may_close_any_engines_reservation(api, engine, operator, live, make_policy):
    make_policy()
    reserved = api(engine).post(RESERVE, {"domain": "WHOLESALE", "amount": "10"}, format="json").json()
    response = api(operator).post(RELEASE, {"reservation_id": reserved["reservation_id"]}, format="json")
    assert (response.status_code, response.json()["settled_by"]) == (200, "op")
