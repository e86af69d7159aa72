"""Run inside the application under test (its settings, its ORM); prints one JSON line.

    appctl.py users [N]                operator, engine and viewer users with their API tokens (and N
                                       more engines, each with its own token)
    appctl.py evaluate-loop SECONDS    the beat's task, called in a loop for SECONDS
    appctl.py beat-every SECONDS       the tripwire schedule every SECONDS
    appctl.py audit-count ACTION       {"ACTION": n, "by_object": {...}} audit events of one action
    appctl.py hold-lock DOMAIN METRIC SECONDS   lock the tripwire's state row for SECONDS (prints "locked")
    appctl.py verify-load FILE         what the load drill's clients were told, checked against the rows

The drills call this instead of writing SQL against the tables, so that they keep working while the
schema moves.
"""

import collections
import json
import sys
from decimal import Decimal

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402

from governance_site import roles  # noqa: E402
from governance_site.audit.models import AuditEvent  # noqa: E402

USERS = {"operator": roles.OPERATOR, "engine": roles.ENGINE, "viewer": roles.VIEWER}


def _token(user) -> str:
    if "knox" in settings.INSTALLED_APPS:
        from knox.models import AuthToken

        return AuthToken.objects.create(user=user)[1]
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def _user(name: str, role: str):
    user, _ = get_user_model().objects.get_or_create(username=f"drill-{name}", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=role))
    return user


def users(engines: str = "0") -> dict:
    tokens = {name: _token(_user(name, role)) for name, role in USERS.items()}
    tokens["engines"] = [_token(_user(f"engine-{i}", roles.ENGINE)) for i in range(int(engines))]
    return tokens


def evaluate_loop(seconds: str) -> dict:
    """What beat does, ten times a second (beat's default is every 5 minutes): every enabled
    tripwire, each in its own transaction."""
    import time

    from regression.tasks import evaluate_tripwires

    outcomes, until = collections.Counter(), time.monotonic() + float(seconds)
    while time.monotonic() < until:
        outcomes.update(evaluate_tripwires().values())
        time.sleep(0.1)
    return dict(outcomes)


def beat_every(seconds: str) -> dict:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=int(seconds), period=IntervalSchedule.SECONDS)
    tasks = PeriodicTask.objects.filter(task="regression.tasks.evaluate_tripwires")
    for task in tasks:  # save() (not update()) so that beat sees the change
        task.interval, task.crontab, task.enabled = every, None, True
        task.save()
    return {"tasks": tasks.count()}


def hold_lock(domain: str, metric: str, seconds: str) -> dict:
    """Hold the row lock an evaluation needs, so that an evaluation started meanwhile waits inside
    its transaction (where a drill can kill the worker running it)."""
    import time

    from django.db import transaction

    from regression.models import RegressionState

    with transaction.atomic():
        state = RegressionState.objects.get(policy__domain=domain, policy__metric=metric)
        RegressionState.objects.select_for_update().get(pk=state.pk)
        print("locked", flush=True)
        time.sleep(float(seconds))
    return {"held": float(seconds)}


def audit_count(action: str) -> dict:
    """How many audit events of `action`, in all and per object (keyed by the first word of its
    repr: "DOMAIN.metric" for a tripwire)."""
    events = AuditEvent.objects.filter(action=action)
    by_object = collections.Counter(text.split()[0] for text in events.values_list("object_repr", flat=True))
    return {action: events.count(), "by_object": by_object}


def verify_load(path: str) -> dict:
    """Every acknowledged KPI event stored exactly once; the ledger's entries as the clients were
    told; every cap held when replayed in commit order; daily totals equal to their entries."""
    from governance_site.business_day import business_date
    from regression.models import KpiEvent
    from risk.models import DailyTotals, Reservation, RiskPolicy, Status
    from risk.models import net_loss as day_net_loss

    with open(path) as handle:
        told = json.load(handle)
    problems = []

    acked = set(told["kpi_acked"])
    stored = collections.Counter(
        KpiEvent.objects.filter(domain__in=told["kpi_domains"]).values_list("event_id", flat=True)
    )
    missing = [e for e in acked if stored.get(e, 0) == 0]
    duplicated = [e for e, n in stored.items() if n > 1]
    unacked_stored = [e for e in stored if e not in acked and e not in set(told.get("kpi_unanswered", []))]
    if missing:
        problems.append(f"{len(missing)} acknowledged KPI events missing, e.g. {missing[:3]}")
    if duplicated:
        problems.append(f"{len(duplicated)} KPI events stored twice, e.g. {duplicated[:3]}")
    if unacked_stored:
        problems.append(
            f"{len(unacked_stored)} KPI events stored that no answer acknowledged, e.g. {unacked_stored[:3]}"
        )

    entries = {e.pk: e for e in Reservation.objects.filter(domain__in=told["risk_domains"])}
    for rid, expect in told["reservations"].items():
        entry = entries.get(int(rid))
        if entry is None:
            problems.append(f"reservation {rid} acknowledged but not stored")
        elif expect["settled_pnl"] is not None and (
            entry.status != Status.SETTLED or entry.realized_pnl != Decimal(expect["settled_pnl"])
        ):
            problems.append(
                f"reservation {rid} settled with {expect['settled_pnl']} but is {entry.status} {entry.realized_pnl}"
            )

    cap_violations = 0
    for domain in told["risk_domains"]:
        policy = RiskPolicy.objects.get(domain=domain)
        timeline = []  # (time, order, kind, entry): replay approvals and settles in commit order
        for entry in (e for e in entries.values() if e.domain == domain):
            if entry.status != Status.DENIED:
                timeline.append((entry.created_at, 0, "reserve", entry))
            if entry.settled_at is not None:
                timeline.append((entry.settled_at, 1, "close", entry))
        open_exposure, actions, pnl = Decimal(0), collections.Counter(), collections.Counter()
        for moment, _, kind, entry in sorted(timeline, key=lambda t: (t[0], t[1], t[3].pk)):
            if kind == "reserve":
                day = entry.business_date
                violated = (
                    (policy.max_action_amount is not None and entry.amount > policy.max_action_amount)
                    or actions[day] + 1 > policy.max_daily_actions
                    or open_exposure + entry.amount > policy.max_open_exposure
                    or day_net_loss(pnl[day]) >= policy.max_daily_loss
                )
                if violated:
                    cap_violations += 1
                    problems.append(f"cap broken by reservation {entry.pk} ({domain}, {entry.amount})")
                actions[day] += 1
                open_exposure += entry.amount
            else:
                open_exposure -= entry.amount
                pnl[business_date(moment)] += entry.realized_pnl or 0

        for totals in DailyTotals.objects.filter(domain=domain):
            day_entries = [
                e for e in entries.values() if e.domain == domain and e.business_date == totals.business_date
            ]
            approved = sum(1 for e in day_entries if e.status != Status.DENIED)
            exposure = sum((e.amount for e in day_entries if e.status == Status.RESERVED), Decimal(0))
            realized = Reservation.objects.filter(domain=domain, settled_at__isnull=False).exclude(realized_pnl=None)
            realized = sum(
                (e.realized_pnl for e in realized if business_date(e.settled_at) == totals.business_date), Decimal(0)
            )
            if (totals.approved_count, totals.open_exposure, totals.realized_pnl) != (approved, exposure, realized):
                problems.append(
                    f"{domain} {totals.business_date}: totals {totals.approved_count}/{totals.open_exposure}/"
                    f"{totals.realized_pnl} but entries {approved}/{exposure}/{realized}"
                )

    ledger = Reservation.objects.filter(domain__in=told["risk_domains"]).aggregate(
        n=Count("id"), pnl=Sum("realized_pnl")
    )
    return {
        "kpi_acked": len(acked),
        "kpi_stored": sum(stored.values()),
        "kpi_missing": len(missing),
        "kpi_duplicated": len(duplicated),
        "entries": ledger["n"],
        "cap_violations": cap_violations,
        "problems": problems[:20],
        "problem_count": len(problems),
    }


COMMANDS = {
    "users": users,
    "evaluate-loop": evaluate_loop,
    "hold-lock": hold_lock,
    "beat-every": beat_every,
    "audit-count": audit_count,
    "verify-load": verify_load,
}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:]), default=str))
