"""A kill cancels the open reservations it covers; settle after a cancel books the pnl and flags
it; a replay of a cancelled reservation answers cancelled, never ok."""

from decimal import Decimal

import pytest

from golive import services as golive
from governance_site.audit.models import AuditEvent
from governance_site.errors import Conflict
from risk import reasons, selectors, services
from risk.models import DailyTotals, Reservation, Status

pytestmark = pytest.mark.django_db

RESERVE = "/api/governance/risk/reserve"


def reserve(domain="WHOLESALE", amount="100", actor="engine-a", **extra):
    entry = services.reserve(domain=domain, amount=amount, actor=actor, **extra)
    assert entry.status == Status.RESERVED, entry.reason
    return entry


@pytest.fixture
def book(live, make_policy):
    """Open reservations: WHOLESALE by engine-a (v1, v2) and engine-b, CAPITAL by engine-a."""
    make_policy("WHOLESALE")
    make_policy("CAPITAL")
    return {
        "w_a_v1": reserve(model_version="v1"),
        "w_a_v2": reserve(model_version="v2"),
        "w_b": reserve(actor="engine-b"),
        "c_a": reserve("CAPITAL", "50"),
    }


def statuses(book) -> dict:
    return {name: Reservation.objects.get(pk=entry.pk).status for name, entry in book.items()}


def open_exposure(domain) -> Decimal:
    return sum(DailyTotals.objects.filter(domain=domain).values_list("open_exposure", flat=True), Decimal(0))


@pytest.mark.parametrize(
    ("scope", "target", "cancelled"),
    [
        ("domain", "WHOLESALE", {"w_a_v1", "w_a_v2", "w_b"}),
        ("engine", "engine-a", {"w_a_v1", "w_a_v2", "c_a"}),
        ("model_version", "v2", {"w_a_v2"}),
        ("global", None, {"w_a_v1", "w_a_v2", "w_b", "c_a"}),
    ],
)
def test_kill__scope__cancels_exactly_what_it_covers(book, operator, scope, target, cancelled):
    golive.set_kill_switch(engaged=True, scope=scope, target=target, reason="runaway", actor=operator)
    assert statuses(book) == {name: Status.CANCELLED if name in cancelled else Status.RESERVED for name in book}
    still_open = {name for name in book if name not in cancelled}
    for domain in ("WHOLESALE", "CAPITAL"):
        expected = sum((book[n].amount for n in still_open if book[n].domain == domain), Decimal(0))
        assert open_exposure(domain) == expected
    entry = Reservation.objects.get(pk=book[sorted(cancelled)[0]].pk)
    label = "global" if scope == "global" else f"{scope} {target}"
    assert (entry.reason, entry.detail, entry.settled_by) == (
        reasons.KILL_SWITCH, f"kill_switch, scope: {label}, by op: runaway", "op",
    )  # fmt: skip
    event = AuditEvent.objects.get(action="reservations.cancel")
    assert (event.actor, event.lever) == ("op", "risk")
    assert event.reason.startswith(f"kill_switch, scope: {label}, by op: runaway: cancelled {len(cancelled)} open")


def test_kill__nothing_open__no_cancel_event(live, make_policy, operator):
    make_policy()
    golive.set_kill_switch(engaged=True, scope="domain", target="WHOLESALE", reason="r", actor=operator)
    assert not AuditEvent.objects.filter(action="reservations.cancel").exists()


def test_ledger__cancelled__counted(book, operator):
    golive.set_kill_switch(engaged=True, scope="domain", target="WHOLESALE", reason="r", actor=operator)
    by_domain = {row["domain"]: row for row in selectors.ledger()["domains"]}
    assert (by_domain["WHOLESALE"]["cancelled_count"], by_domain["WHOLESALE"]["open_exposure"]) == (3, 0)
    assert (by_domain["CAPITAL"]["cancelled_count"], by_domain["CAPITAL"]["open_exposure"]) == (0, Decimal(50))


def test_settle__cancelled__pnl_booked_and_flagged_exposure_not_freed_twice(book, operator):
    golive.set_kill_switch(engaged=True, scope="domain", target="WHOLESALE", reason="r", actor=operator)
    entry = services.settle(reservation_id=book["w_b"].pk, realized_pnl="-30", actor="engine-b")
    assert (entry.status, entry.realized_pnl, entry.settled_after_cancel) == (Status.CANCELLED, Decimal(-30), True)
    totals = DailyTotals.objects.get(domain="WHOLESALE")
    assert (totals.realized_pnl, totals.open_exposure) == (Decimal(-30), Decimal(0))
    # The same settle again changes nothing; another pnl is a conflict; a release changes nothing.
    services.settle(reservation_id=book["w_b"].pk, realized_pnl="-30", actor="engine-b")
    with pytest.raises(Conflict):
        services.settle(reservation_id=book["w_b"].pk, realized_pnl="-31", actor="engine-b")
    assert services.release(reservation_id=book["w_a_v1"].pk, actor="engine-a").status == Status.CANCELLED
    assert DailyTotals.objects.get(domain="WHOLESALE").realized_pnl == Decimal(-30)


def test_replay__cancelled__answers_cancelled_not_ok(api, engine, operator, live, make_policy):
    make_policy()
    body = {"domain": "WHOLESALE", "amount": "10", "idempotency_key": "offer-9", "ref": "offer-9"}
    first = api(engine).post(RESERVE, body, format="json").json()
    assert (first["ok"], first["status"]) == (True, "RESERVED")
    golive.set_kill_switch(engaged=True, scope="engine", target="engine-bot", reason="runaway", actor=operator)
    replay = api(engine).post(RESERVE, body, format="json").json()
    assert replay == {
        "ok": False,
        "reason": "kill_switch",
        "detail": "kill_switch, scope: engine engine-bot, by op: runaway",
        "status": "CANCELLED",
        "reservation_id": first["reservation_id"],
        "expires_at": first["expires_at"],
    }
    assert Reservation.objects.count() == 1


def test_release_kill__cancelled_stay_cancelled_new_reserves_approved(book, operator):
    golive.set_kill_switch(engaged=True, scope="domain", target="WHOLESALE", reason="r", actor=operator)
    golive.set_kill_switch(engaged=False, scope="domain", target="WHOLESALE", reason="fixed", actor=operator)
    assert Reservation.objects.get(pk=book["w_b"].pk).status == Status.CANCELLED
    assert reserve().ok
