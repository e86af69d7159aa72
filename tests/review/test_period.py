"""The review covers a period (since the last completed review, ?date=, ?since=&until=), lists
what nobody watches, and can be signed off; the KPI API says when nobody watches an event."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance_site.audit.models import AuditEvent
from governance_site.business_day import business_date, day_bounds
from regression import services as regression
from regression.models import KpiEvent
from review import selectors
from review import services as review
from review.models import ReviewSignOff
from risk import services as risk
from risk.models import Reservation, Status

pytestmark = pytest.mark.django_db

REVIEW = "/api/governance/review"
SIGN_OFF = "/api/governance/review/sign-off"
KPI = "/api/governance/regression/kpi"


def days_ago(n: int) -> dt.date:
    return business_date() - dt.timedelta(days=n)


def entry(domain: str, day: dt.date, *, status=Status.SETTLED, reason="") -> Reservation:
    return Reservation.objects.create(
        domain=domain, amount=Decimal(100), status=status, reason=reason, actor="engine", business_date=day
    )


def test_review__no_review_completed__covers_the_last_7_days(api, viewer):
    review = api(viewer).get(REVIEW).json()
    assert (review["since"], review["until"]) == (str(days_ago(6)), str(days_ago(0)))
    assert review["last_sign_off"] is None


def test_review__after_a_sign_off__starts_where_it_ended(api, viewer, operator):
    review.sign_off(since=days_ago(20), until=days_ago(10), note="all quiet", actor=operator)
    body = api(viewer).get(REVIEW).json()
    assert (body["since"], body["until"]) == (str(days_ago(10)), str(days_ago(0)))
    assert body["last_sign_off"]["signed_by"] == "op" and body["last_sign_off"]["note"] == "all quiet"


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        ({"date": 3}, 3, 3),
        ({"since": 9, "until": 2}, 9, 2),
        ({"since": 4}, 4, 0),
    ],
)
def test_review__period_parameters__select_those_days(api, viewer, query, since, until):
    params = {name: str(days_ago(n)) for name, n in query.items()}
    body = api(viewer).get(REVIEW, params).json()
    assert (body["since"], body["until"]) == (str(days_ago(since)), str(days_ago(until)))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": 1, "until": 2}, "since"),  # since after until
        ({"until": 2}, "since"),
        ({"date": 1, "since": 2}, "date"),
        ({"since": 400, "until": 0}, "since"),  # longer than a year
        ({"since": -1}, "since"),  # after today
        ({"until": "2026-02-30", "since": 3}, "until"),
    ],
)
def test_review__bad_period__400_naming_the_field(api, viewer, query, field):
    params = {name: n if isinstance(n, str) else str(days_ago(n)) for name, n in query.items()}
    response = api(viewer).get(REVIEW, params)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field


def test_review__ledger_and_audit__count_only_the_period(api, viewer, operator):
    entry("WHOLESALE", days_ago(2))
    entry("WHOLESALE", days_ago(2), status=Status.DENIED, reason="max_daily_loss")
    entry("WHOLESALE", days_ago(9), status=Status.DENIED, reason="policy_disabled")  # before the period
    risk.upsert_policy(domain="WHOLESALE", changes={"max_daily_loss": "5000"}, actor=operator, reason="caps")
    body = api(viewer).get(REVIEW, {"since": str(days_ago(3)), "until": str(days_ago(1))}).json()
    (wholesale,) = body["risk_ledger"]
    assert (wholesale["approved_count"], wholesale["denied_count"]) == (1, 1)
    assert wholesale["denial_count_by_reason"] == {"max_daily_loss": 1}
    assert body["audit_count"] == 0  # the upsert was today, after the period
    assert api(viewer).get(REVIEW).json()["audit_count"] == AuditEvent.objects.count() == 1


def test_review__trends__one_value_per_day_per_domain(api, viewer, operator):
    entry("WHOLESALE", days_ago(1))
    entry("WHOLESALE", days_ago(1), status=Status.DENIED, reason="max_daily_loss")
    entry("WHOLESALE", days_ago(1), status=Status.DENIED, reason="max_daily_loss")
    body = api(viewer).get(REVIEW, {"since": str(days_ago(2)), "until": str(days_ago(0))}).json()
    trend = next(row for row in body["trends"] if row["domain"] == "WHOLESALE")
    assert trend["approved"] == [0, 1, 0]
    assert trend["denied"] == {"max_daily_loss": [0, 2, 0]}
    assert trend["heimdall_success_rate"] == [None, None, None]


def _kpis(domain: str, metric: str, outcomes: list, *, actor="engine-a", hours_ago: float = 1):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    field = "success" if isinstance(outcomes[0], bool) else "value"
    regression.record_kpi_batch(
        events=[
            {"domain": domain, "metric": metric, field: v, "occurred_at": start + dt.timedelta(seconds=i)}
            for i, v in enumerate(outcomes)
        ],
        actor=actor,
    )


def test_review__unwatched_wrong_field_and_silent__listed_with_counts_and_engines(api, viewer, operator):
    regression.upsert_policy(domain="WHOLESALE", metric="contract_rate", changes={"enabled": True},
                             actor=operator, reason="watch")  # fmt: skip
    regression.upsert_policy(domain="CAPITAL", metric="roi_event", changes={"enabled": True, "kind": "MEAN_VALUE"},
                             actor=operator, reason="watch")  # fmt: skip
    _kpis("WHOLESALE", "contrat_rate", [True] * 3, actor="offer-engine")
    _kpis("WHOLESALE", "contrat_rate", [False] * 2, actor="offer-engine-2")
    _kpis("WHOLESALE", "contract_rate", [0.5, 0.7])  # a value on a SUCCESS_RATE tripwire
    _kpis("CAPITAL", "roi_event", [0.01], hours_ago=30)  # nothing in the last 24 hours
    body = api(viewer).get(REVIEW).json()
    assert body["unwatched_kpis"] == [
        {"domain": "WHOLESALE", "metric": "contrat_rate", "policy": "none", "count": 5,
         "last_at": body["unwatched_kpis"][0]["last_at"], "engines": ["offer-engine", "offer-engine-2"]},
    ]  # fmt: skip
    assert body["wrong_field_kpis"] == [
        {"domain": "WHOLESALE", "metric": "contract_rate", "kind": "SUCCESS_RATE", "expected_field": "success",
         "count": 2, "engines": ["engine-a"]},
    ]  # fmt: skip
    silent = {(row["domain"], row["metric"]) for row in body["silent_tripwires"]}
    assert silent == {("CAPITAL", "roi_event"), ("WHOLESALE", "contract_rate")}  # contract_rate: values only


def _silent(api, viewer, **period) -> dict:
    body = api(viewer).get(REVIEW, {name: str(days_ago(n)) for name, n in period.items()}).json()
    return {
        (row["domain"], row["metric"]): row["last_event_at"] and dt.datetime.fromisoformat(row["last_event_at"])
        for row in body["silent_tripwires"]
    }


def _last_at(domain: str, metric: str, **filters) -> dt.datetime:
    return KpiEvent.objects.filter(domain=domain, metric=metric, **filters).latest("occurred_at").occurred_at


@pytest.mark.parametrize(
    ("hours_ago", "period", "last_before_period"),
    [
        (30, {}, False),  # the last event in the period: the period's pass holds it
        (24 * 5, {"since": 2}, True),  # the last event before the period: read from the table
    ],
)
def test_review__silent_tripwire__last_event_at_the_last_before_the_period_end(
    api, viewer, operator, hours_ago, period, last_before_period
):
    regression.upsert_policy(domain="CAPITAL", metric="roi_event", changes={"enabled": True, "kind": "MEAN_VALUE"},
                             actor=operator, reason="watch")  # fmt: skip
    _kpis("CAPITAL", "roi_event", [0.01, 0.02], hours_ago=hours_ago)
    _kpis("CAPITAL", "roi_event", [True], hours_ago=1)  # no value: it does not count
    assert _silent(api, viewer, **period) == {("CAPITAL", "roi_event"): _last_at("CAPITAL", "roi_event", value=0.02)}
    assert KpiEvent.objects.filter(occurred_at__lt=day_bounds(days_ago(2))[0]).exists() == last_before_period


def test_review__silent_tripwire__an_event_dated_later_today_does_not_hide_it(api, viewer, operator):
    regression.upsert_policy(domain="CAPITAL", metric="roi_event", changes={"enabled": True, "kind": "MEAN_VALUE"},
                             actor=operator, reason="watch")  # fmt: skip
    _kpis("CAPITAL", "roi_event", [0.01], hours_ago=30)
    _kpis("CAPITAL", "roi_event", [0.02], hours_ago=-0.01)  # 36 seconds from now (today, or after the period)
    assert _silent(api, viewer) == {("CAPITAL", "roi_event"): _last_at("CAPITAL", "roi_event", value=0.01)}


def _review_queries() -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        selectors.control_plane_review()
    return [query["sql"] for query in queries.captured_queries]


def test_review__queries__one_pass_over_kpi_events_however_many_tripwires(operator):
    def watch(domain, metric):
        regression.upsert_policy(domain=domain, metric=metric, changes={"enabled": True}, actor=operator, reason="w")
        _kpis(domain, metric, [True, False])

    watch("WHOLESALE", "contract_rate")
    _kpis("WHOLESALE", "contrat_rate", [True])  # unwatched
    _kpis("WHOLESALE", "contract_rate", [0.5])  # the wrong field
    few = _review_queries()
    for metric in ("reply_rate", "open_rate", "click_rate"):
        watch("RETAIL", metric)
    many = _review_queries()
    assert len(few) == len(many) == 26
    assert len([sql for sql in many if "regression_kpievent" in sql]) == 1


def test_review__trials_for_a_domain_without_policy__listed(api, viewer, engine):
    from heimdall import services as heimdall

    heimdall.record_trial(domain="ROUTING", confidence=0.9, success=True, actor=engine)
    body = api(viewer).get(REVIEW).json()
    assert body["unwatched_trials"] == [{"domain": "ROUTING", "count": 1, "engines": ["engine-bot"]}]


def test_review__drifting__within_a_quarter_of_the_threshold_with_direction(api, viewer, operator):
    regression.upsert_policy(
        domain="WHOLESALE", metric="contract_rate", actor=operator, reason="watch",
        changes={"enabled": True, "window_events": 20, "baseline_events": 20, "max_drop_fraction": 0.2},
    )  # fmt: skip
    _kpis("WHOLESALE", "contract_rate", [True] * 20 + [True] * 17 + [False] * 3)  # drop 15%: 75% of 20%
    regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor=operator)
    (drifting,) = api(viewer).get(REVIEW).json()["drifting_tripwires"]
    assert drifting["metric"] == "contract_rate" and drifting["drop_fraction"] == pytest.approx(0.15)
    assert drifting["threshold_share"] == pytest.approx(0.75)
    assert drifting["direction"] == "new"  # a week ago there were no events


def test_review__drop_below_three_quarters__not_drifting(api, viewer, operator):
    regression.upsert_policy(
        domain="WHOLESALE", metric="contract_rate", actor=operator, reason="watch",
        changes={"enabled": True, "window_events": 20, "baseline_events": 20, "max_drop_fraction": 0.2},
    )  # fmt: skip
    _kpis("WHOLESALE", "contract_rate", [True] * 20 + [True] * 18 + [False] * 2)  # drop 10%
    regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor=operator)
    assert api(viewer).get(REVIEW).json()["drifting_tripwires"] == []


# --- The KPI API's watched flag -----------------------------------------------------------------


def test_kpi_api__typo_metric__stored_with_watched_false_and_a_warning(api, engine, operator):
    regression.upsert_policy(domain="WHOLESALE", metric="contract_rate", changes={"enabled": True},
                             actor=operator, reason="watch")  # fmt: skip
    response = api(engine).post(KPI, {"domain": "WHOLESALE", "metric": "contrat_rate", "success": True}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["watched"] is False
    assert body["warning"] == "WHOLESALE.contrat_rate: no tripwire watches it (1 event)"
    assert KpiEvent.objects.filter(metric="contrat_rate").count() == 1


def test_kpi_api__watched_pair_and_field__watched_true(api, engine, operator):
    regression.upsert_policy(domain="WHOLESALE", metric="contract_rate", changes={"enabled": True},
                             actor=operator, reason="watch")  # fmt: skip
    body = (
        api(engine).post(KPI, {"domain": "WHOLESALE", "metric": "contract_rate", "success": True}, format="json").json()
    )
    assert (body["watched"], body["warning"]) == (True, None)


def test_kpi_api__wrong_field_or_disabled__warning(api, engine, operator):
    regression.upsert_policy(domain="WHOLESALE", metric="contract_rate", changes={"enabled": True},
                             actor=operator, reason="watch")  # fmt: skip
    regression.upsert_policy(domain="CAPITAL", metric="roi_event", changes={"kind": "MEAN_VALUE"},
                             actor=operator, reason="not yet")  # fmt: skip
    body = api(engine).post(KPI, {"domain": "WHOLESALE", "metric": "contract_rate", "value": 0.4}, format="json").json()
    assert body["watched"] is False and "reads `success`, which the event lacks" in body["warning"]
    body = api(engine).post(KPI, {"domain": "CAPITAL", "metric": "roi_event", "value": 0.4}, format="json").json()
    assert body["warning"] == "CAPITAL.roi_event: its tripwire is disabled (1 event)"


def test_kpi_batch__warnings_per_pair_with_counts(api, engine):
    events = [{"domain": "WHOLESALE", "metric": "contrat_rate", "success": True}] * 3
    response = api(engine).post(f"{KPI}/batch", events, format="json")
    assert response.status_code == 201
    assert response.json()["warnings"] == ["WHOLESALE.contrat_rate: no tripwire watches it (3 events)"]


# --- Sign-off ---------------------------------------------------------------------------------------


def test_sign_off__operator__stored_audited_and_listed(api, operator):
    body = {"since": str(days_ago(6)), "until": str(days_ago(0)), "note": "two denials explained"}
    response = api(operator).post(SIGN_OFF, body, format="json")
    assert response.status_code == 201, response.content
    signed = ReviewSignOff.objects.get()
    assert (signed.signed_by, signed.note, signed.since) == ("op", "two denials explained", days_ago(6))
    event = AuditEvent.objects.get(action="review.sign_off")
    assert (event.actor, event.lever, event.reason) == ("op", "review", "two denials explained")
    assert event.after["until"] == str(days_ago(0))
    history = api(operator).get("/api/governance/review/sign-offs").json()
    assert [row["id"] for row in history["results"]] == [signed.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": 3, "until": 1, "note": " "}, "note"),
        ({"since": 1, "until": 3, "note": "x"}, "since"),
        ({"since": 3, "until": -1, "note": "x"}, "until"),
        ({"until": 1, "note": "x"}, "since"),
    ],
)
def test_sign_off__bad_input__400_naming_the_field_nothing_written(api, operator, body, field):
    body = {name: value if name == "note" else str(days_ago(value)) for name, value in body.items()}
    response = api(operator).post(SIGN_OFF, body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not ReviewSignOff.objects.exists() and not AuditEvent.objects.exists()


def test_sign_off__viewer_403(api, viewer):
    body = {"since": str(days_ago(1)), "until": str(days_ago(0)), "note": "x"}
    assert api(viewer).post(SIGN_OFF, body, format="json").status_code == 403


def test_review__drifting_and_worse_than_a_week_ago__worsening(api, viewer, operator):
    regression.upsert_policy(
        domain="WHOLESALE", metric="contract_rate", actor=operator, reason="watch",
        changes={"enabled": True, "window_events": 20, "baseline_events": 20, "max_drop_fraction": 0.2},
    )  # fmt: skip
    _kpis("WHOLESALE", "contract_rate", [True] * 40, hours_ago=24 * 9)  # a week ago: no drop
    _kpis("WHOLESALE", "contract_rate", [True] * 17 + [False] * 3)  # now: window 85% against 100%
    regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor=operator)
    (drifting,) = api(viewer).get(REVIEW).json()["drifting_tripwires"]
    assert (drifting["drop_week_before"], drifting["direction"]) == (0.0, "worsening")


def test_review__throttle_lifted_by_an_operator__shown_lifted_not_in_force(api, viewer, operator):
    import io

    from django.core.management import call_command

    call_command("demo", stdout=io.StringIO())
    tripwires = {t["metric"]: t for t in api(viewer).get(REVIEW).json()["triggered_tripwires"]}
    assert tripwires["contract_rate"]["action_in_force"] is True and tripwires["roi_event"]["action_in_force"] is True
    risk.set_enabled(domain="WHOLESALE", enabled=True, reason="contract flow fixed", actor=operator)
    tripwires = {t["metric"]: t for t in api(viewer).get(REVIEW).json()["triggered_tripwires"]}
    contract = tripwires["contract_rate"]
    assert (contract["action_in_force"], contract["lifted_by"]) == (False, "op")
    assert tripwires["roi_event"]["action_in_force"] is True  # the kill switch is still engaged


def test_review__domain_kill_by_a_tripwire__in_force_until_released(api, viewer, operator, live):
    from golive import services as golive

    regression.upsert_policy(
        domain="WHOLESALE", metric="contract_rate", actor=operator, reason="watch",
        changes={"enabled": True, "window_events": 10, "baseline_events": 10, "action": "KILL_DOMAIN"},
    )  # fmt: skip
    _kpis("WHOLESALE", "contract_rate", [True] * 10 + [False] * 10)
    regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    (tripwire,) = api(viewer).get(REVIEW).json()["triggered_tripwires"]
    assert (tripwire["action_taken"], tripwire["action_in_force"]) == ("KILL_DOMAIN", True)
    golive.set_kill_switch(engaged=False, scope="domain", target="WHOLESALE", reason="fixed", actor=operator)
    (tripwire,) = api(viewer).get(REVIEW).json()["triggered_tripwires"]
    assert (tripwire["action_in_force"], tripwire["lifted_by"]) == (False, "op")


def test_review__upsert_without_a_reason__listed_as_unexplained(api, viewer, operator):
    api(operator).post(
        "/api/governance/regression/policies/upsert",
        {"domain": "WHOLESALE", "metric": "contract_rate", "enabled": True},  # the spec's walkthrough: no reason
        format="json",
    )
    risk.upsert_policy(domain="CAPITAL", changes={"max_daily_loss": "10"}, actor=operator, reason="explained")
    unexplained = api(viewer).get(REVIEW).json()["unexplained_changes"]
    assert [(e["actor"], e["action"], e["object_repr"]) for e in unexplained] == [
        ("op", "policy.update", "WHOLESALE.contract_rate")
    ]
