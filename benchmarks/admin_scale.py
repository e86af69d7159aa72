"""The admin at scale: every admin page with a handful of rows, then with 1,000,000 KPI events and
100,000 ledger entries (goal: each page under a second, and close to its time on the empty database).

1. a fresh database (dropped and created here; its name must contain "bench"), migrated, with a
   superuser logged in through django.test.Client;
2. the baseline: the median time of every page that matters (the control-plane review, which is
   the admin's index, and its JSON; every registered model's changelist; changelists filtered and
   searched; detail pages; the risk "today" page; the Heimdall scorecard; a tripwire's page) with
   a handful of rows in each table;
3. the load, in raw SQL (INSERT … SELECT … FROM generate_series): 1,000,000 KPI events over 30 days,
   100,000 ledger entries over 30 business days (20,000 of them today, denied ones with reasons),
   their daily totals, audit events, sandbox trials, tripwire policies and states; then ANALYZE;
4. every page again: a table of ms empty, ms loaded, loaded/empty and a verdict, then the queries
   of each page that takes 250 ms or more. Exits 1 when a page takes a second or more.

Run by `make bench`. DATABASE_URL names the bench database (default postgres://postgres@127.0.0.1:
5432/governance_bench_admin); it is dropped at the end unless --keep is given (to look at it).
"""

import datetime as dt
import os
import statistics
import sys
import time
from urllib.parse import urlencode

import _common as common

os.environ["SECURE_SSL_REDIRECT"] = "false"  # the test client speaks plain http
common.start_django("postgres://postgres@127.0.0.1:5432/governance_bench_admin")

from django.conf import settings  # noqa: E402
from django.contrib import admin  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from golive import services as golive  # noqa: E402
from governance_site.business_day import business_date, day_bounds  # noqa: E402
from heimdall import services as heimdall  # noqa: E402
from heimdall.models import SandboxTrial  # noqa: E402
from regression import services as regression  # noqa: E402
from regression.models import KpiEvent, RegressionPolicy, RegressionState  # noqa: E402
from risk import reasons  # noqa: E402
from risk import services as risk  # noqa: E402
from risk.models import DailyTotals, Reservation, RiskPolicy  # noqa: E402

ACTOR = "bench/admin"
REPEATS = 5  # timed requests per page, after one untimed
LIMIT = 1.0  # seconds
EXPLAIN_FROM = 0.25  # seconds: the queries of a page this slow are printed
DAYS = 30
RISK_DOMAINS = ["WHOLESALE", "BUYER_MATCH", "CAPITAL", "RETAIL"]
# (domain, metric, kind): the migration's four tripwires and four more
STREAMS = [
    ("WHOLESALE", "contract_rate", "SUCCESS_RATE"),
    ("WHOLESALE", "offer_accept_rate", "SUCCESS_RATE"),
    ("BUYER_MATCH", "match_success", "SUCCESS_RATE"),
    ("CAPITAL", "roi_event", "MEAN_VALUE"),
    ("RETAIL", "checkout_success", "SUCCESS_RATE"),
    ("RETAIL", "basket_value", "MEAN_VALUE"),
    ("BUYER_MATCH", "reply_rate", "SUCCESS_RATE"),
    ("CAPITAL", "fill_rate", "SUCCESS_RATE"),
]
SMALL = {"kpi": 16, "today": 8, "past": 8, "audit": 8, "trials": 16}
LARGE = {"kpi": 1_000_000, "today": 20_000, "past": 80_000, "audit": 20_000, "trials": 50_000}


# Database ------------------------------------------------------------------------------------


def execute(statement: str, params: dict | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def configure() -> None:
    """Policies through the services (so they are audited as an operator would leave them)."""
    golive.set_go_live(enabled=True, reason="admin benchmark", actor=ACTOR)
    for domain in RISK_DOMAINS:
        caps = {"max_daily_loss": "50000", "max_open_exposure": "250000", "max_daily_actions": 10_000}
        risk.upsert_policy(domain=domain, changes=caps, actor=ACTOR, reason="benchmark caps")
        heimdall.upsert_policy(domain=domain, changes={"enabled": True}, actor=ACTOR, reason="benchmark")
    for domain, metric, kind in STREAMS:
        changes = {"enabled": True, "kind": kind, "action": "KILL_SWITCH" if domain == "CAPITAL" else "THROTTLE"}
        regression.upsert_policy(domain=domain, metric=metric, changes=changes, actor=ACTOR, reason="benchmark")
    now = timezone.now()
    states = RegressionState.objects.all()
    states.update(status="ok", window_count=50, baseline_count=200, evaluated_at=now, evaluated_by="tripwire/beat")
    states.filter(policy__domain="WHOLESALE", policy__metric="contract_rate").update(
        status="triggered", triggered=True, baseline_rate=0.95, current_rate=0.75, drop_fraction=0.2105,
        action_taken="THROTTLE", triggered_at=now - dt.timedelta(hours=3),
    )  # fmt: skip


def load(stage: str, counts: dict[str, int]) -> None:
    """Append `counts` rows of each kind (`stage` keeps their unique keys apart), then ANALYZE."""
    now = timezone.now()
    today = business_date(now)
    today_start, _ = day_bounds(today)
    span = dt.timedelta(days=DAYS)
    params = {"stage": stage, "now": now, "span": span, "today": today, "today_start": today_start}
    streams = ", ".join(f"({i}, '{d}', '{m}', '{k}')" for i, (d, m, k) in enumerate(STREAMS))
    # KPI events: the streams in turn, evenly over the last 30 days, ids in time order, 10% without event_id
    execute(
        f"""
        INSERT INTO {KpiEvent._meta.db_table} (domain, metric, success, value, actor, event_id, occurred_at, created_at,
                                               model_version)
        SELECT s.domain, s.metric,
               CASE WHEN s.kind = 'SUCCESS_RATE' THEN random() < 0.9 END,
               CASE WHEN s.kind = 'MEAN_VALUE' THEN round((random() * 0.2)::numeric, 4)::float END,
               'engine/' || lower(s.domain),
               CASE WHEN g %% 10 <> 0 THEN 'ev-' || %(stage)s || '-' || g END,
               t.at, t.at + interval '150 milliseconds', ''
        FROM generate_series(1, %(n)s) AS g
        JOIN (VALUES {streams}) AS s (i, domain, metric, kind) ON s.i = g %% {len(STREAMS)}
        CROSS JOIN LATERAL (SELECT %(now)s - %(span)s * ((%(n)s - g)::float / %(n)s) AS at) AS t
        ORDER BY g
        """,
        {**params, "n": counts["kpi"]},
    )
    # Ledger entries: `today` of them today (some still open), `past` over the 29 days before
    denials = list(reasons.DENIAL_REASONS)
    entries = """
        INSERT INTO {table} (domain, amount, status, reason, realized_pnl, idempotency_key, ref, actor,
                             business_date, created_at, expires_at, settled_at, settled_by, detail,
                             model_version, settled_after_cancel)
        SELECT domain, amount, status, reason,
               CASE WHEN status = 'SETTLED' THEN round((random() * 400 - 180)::numeric, 2) END,
               CASE WHEN g %% 5 <> 0 THEN 'key-' || %(stage)s || '-{part}-' || g END,
               'order-' || %(stage)s || '-{part}-' || g, 'engine/' || lower(domain),
               %(today)s - day_back, at,
               CASE WHEN status <> 'DENIED' THEN at + interval '15 minutes' END,
               CASE WHEN status IN ('SETTLED', 'RELEASED', 'EXPIRED') THEN at + interval '5 minutes' END,
               CASE WHEN status IN ('SETTLED', 'RELEASED') THEN 'engine/' || lower(domain)
                    WHEN status = 'EXPIRED' THEN 'risk/expiry' ELSE '' END,
               reason, '', false
        FROM (
            SELECT *, CASE WHEN status = 'DENIED' THEN (%(denials)s::text[])[1 + (g * 7) %% {n_denials}] ELSE ''
                      END AS reason
            FROM (
            SELECT g, (%(domains)s::text[])[1 + g %% {n_domains}] AS domain,
                   round((10 + random() * 990)::numeric, 2) AS amount,
                   CASE WHEN r < {open_share} THEN 'RESERVED' WHEN r < 0.70 THEN 'SETTLED'
                        WHEN r < 0.80 THEN 'RELEASED' WHEN r < 0.84 THEN 'EXPIRED' ELSE 'DENIED' END AS status,
                   {day_back} AS day_back, {at} AS at
            FROM (SELECT g, random() AS r FROM generate_series(1, %(n)s) AS g) AS numbers
            ) AS drawn
        ) AS entry
        ORDER BY at
    """
    for part, n, day_back, at, open_share in [
        # the 29 days before, evenly, first (ids grow with time, as the services leave them)
        ("past", counts["past"], f"1 + g %% {DAYS - 1}", "%(today_start)s - make_interval(days => 1 + g %% "
         f"{DAYS - 1}) + interval '1 day' * random()", 0.0),
        # today: in time order up to now, 8% still RESERVED
        ("today", counts["today"], "0", "%(today_start)s + (%(now)s - %(today_start)s) * (g::float / %(n)s)", 0.08),
    ]:  # fmt: skip
        statement = entries.format(
            table=Reservation._meta.db_table, part=part, n_denials=len(denials), n_domains=len(RISK_DOMAINS),
            open_share=open_share, day_back=day_back, at=at,
        )  # fmt: skip
        execute(statement, {**params, "n": n, "denials": denials, "domains": RISK_DOMAINS})
    # Each domain's totals of each day, as the services keep them
    totals = DailyTotals._meta.db_table
    execute(f"DELETE FROM {totals}")
    execute(
        f"""
        INSERT INTO {totals} (domain, business_date, approved_count, open_exposure, realized_pnl)
        SELECT domain, business_date, count(*) FILTER (WHERE status <> 'DENIED'),
               coalesce(sum(amount) FILTER (WHERE status = 'RESERVED'), 0),
               coalesce(sum(realized_pnl) FILTER (WHERE status = 'SETTLED'), 0)
        FROM {Reservation._meta.db_table} GROUP BY domain, business_date
        """
    )
    # Audit events: policy changes over the 30 days
    execute(
        """
        INSERT INTO audit_auditevent (created_at, actor, actor_user_id, lever, object_type, object_id, object_repr,
                                      action, before, after, reason)
        SELECT %(now)s - %(span)s * ((%(n)s - g)::float / %(n)s),
               (ARRAY['alice', 'bob', 'tripwire/beat', 'risk/expiry'])[1 + g %% 4], NULL,
               (ARRAY['golive', 'risk', 'heimdall', 'regression'])[1 + g %% 4],
               'RiskPolicy', (1 + g %% 4)::text, (%(domains)s::text[])[1 + g %% 4],
               (ARRAY['update', 'enable', 'disable', 'reset'])[1 + (g / 4) %% 4],
               jsonb_build_object('max_daily_actions', g), jsonb_build_object('max_daily_actions', g + 1),
               'benchmark change ' || %(stage)s || '-' || g
        FROM generate_series(1, %(n)s) AS g
        """,
        {**params, "n": counts["audit"], "domains": RISK_DOMAINS},
    )
    # Sandbox trials: evenly over the 30 days, three model versions
    execute(
        f"""
        INSERT INTO {SandboxTrial._meta.db_table} (domain, model_version, recommendation_ref, confidence, success,
                                                   actor, created_at)
        SELECT (%(domains)s::text[])[1 + g %% 4], (ARRAY['v1', 'v2', 'v3', ''])[1 + (g / 4) %% 4],
               'rec-' || %(stage)s || '-' || g, round(random()::numeric, 3)::float, random() < 0.85,
               'engine/heimdall', %(now)s - %(span)s * ((%(n)s - g)::float / %(n)s)
        FROM generate_series(1, %(n)s) AS g
        """,
        {**params, "n": counts["trials"], "domains": RISK_DOMAINS},
    )
    execute("ANALYZE")


def row_counts() -> dict[str, int]:
    models = [KpiEvent, Reservation, DailyTotals, SandboxTrial, RegressionPolicy, RegressionState, RiskPolicy]
    counts = {model._meta.verbose_name_plural: model.objects.count() for model in models}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        counts["audit events"] = cursor.fetchone()[0]
    counts["ledger entries today"] = Reservation.objects.filter(business_date=business_date()).count()
    return counts


# Pages ---------------------------------------------------------------------------------------


def pages() -> list[tuple[str, str]]:
    """(name, url) of every page measured; the names are the same in both measurements."""
    today = business_date()
    week = urlencode(
        {"occurred_at__gte": day_bounds(today - dt.timedelta(days=6))[0], "occurred_at__lt": day_bounds(today)[1]}
    )
    listed = [("review (admin index)", reverse("admin:index")), ("GET /api/governance/review", reverse("review"))]
    for model in admin.site._registry:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        listed.append((f"list {opts.app_label}.{opts.model_name}", changelist))
    kpi = reverse("admin:regression_kpievent_changelist")
    ledger = reverse("admin:risk_reservation_changelist")
    trials = reverse("admin:heimdall_sandboxtrial_changelist")
    audit = reverse("admin:audit_auditevent_changelist")
    denied = Reservation.objects.filter(status="DENIED").order_by("-id").first()
    denied_reason = denied.reason if denied else reasons.DENIAL_REASONS[0]  # a handful of rows may hold none
    event = KpiEvent.objects.exclude(event_id=None).order_by("-id").first()
    entry = Reservation.objects.order_by("-id").first()
    policy = RiskPolicy.objects.get(domain="WHOLESALE")
    tripwire = RegressionState.objects.get(policy__domain="WHOLESALE", policy__metric="contract_rate")
    listed += [
        ("kpi events ?domain&metric&past 7 days", f"{kpi}?domain=WHOLESALE&metric=contract_rate&{week}"),
        ("kpi events ?q=<event_id>", f"{kpi}?q={event.event_id}"),
        ("kpi events page 1,000", f"{kpi}?p=1000"),
        ("ledger ?domain&DENIED&reason", f"{ledger}?domain=WHOLESALE&status__exact=DENIED"
         f"&reason__exact={denied_reason}"),
        ("ledger ?domain&today (today's link)", f"{ledger}?domain=WHOLESALE&business_date__exact={today}"),
        ("ledger ?business_date year+month", f"{ledger}?business_date__year={today.year}"
         f"&business_date__month={today.month}"),
        ("ledger ?q=WHOLESALE", f"{ledger}?q=WHOLESALE"),
        ("ledger ?q=<ref>", f"{ledger}?q={entry.ref}"),
        ("trials ?domain&failed", f"{trials}?domain=WHOLESALE&success__exact=0"),
        ("audit ?lever=risk&q=change", f"{audit}?lever__exact=risk&q=change"),
        ("kpi event detail", reverse("admin:regression_kpievent_change", args=[event.pk])),
        ("ledger entry detail", reverse("admin:risk_reservation_change", args=[entry.pk])),
        ("risk today page (WHOLESALE)", reverse("admin:risk_riskpolicy_today", args=[policy.pk])),
        ("heimdall scorecard", reverse("admin:heimdall_scorecard")),
        ("tripwire state page", reverse("admin:regression_regressionstate_change", args=[tripwire.pk])),
        ("go-live state page", reverse("admin:golive_golivestate_change", args=[1])),
    ]  # fmt: skip
    return listed


def get(client: Client, url: str) -> None:
    response = client.get(url, follow=True)
    if response.status_code != 200:
        sys.exit(f"GET {url}: {response.status_code}")


def measure(client: Client) -> dict[str, tuple[float, list[dict]]]:
    """{name: (median seconds, the queries of one more request)} of each page."""
    results = {}
    for name, url in pages():
        get(client, url)  # warm: templates, caches, the session
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            get(client, url)
            times.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as queries:
            get(client, url)
        results[name] = (statistics.median(times), list(queries.captured_queries))
    return results


def main() -> None:
    started = time.time()
    keep = "--keep" in sys.argv
    settings.ALLOWED_HOSTS = ["testserver"]
    common.prepare_database(fresh=True)
    version = connection.cursor().connection.info.server_version
    print(f"PostgreSQL {version // 10000}.{version % 10000}, database {connection.settings_dict['NAME']}")
    user = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", "unused")
    client = Client()
    client.force_login(user)
    configure()
    load("s", SMALL)
    empty_counts = row_counts()
    empty = measure(client)

    loading = time.time()
    load("l", LARGE)
    loaded_counts = row_counts()
    print(f"\nloaded in {time.time() - loading:.0f} s; rows (empty → loaded):")
    for name, count in loaded_counts.items():
        print(f"  {name:<22} {empty_counts[name]:>6,} → {count:>10,}")
    loaded = measure(client)

    print(f"\nmedian of {REPEATS} requests per page (after one untimed), django.test.Client, logged in as superuser")
    print(f"{'page':<44} {'ms empty':>9} {'ms loaded':>10} {'ratio':>7} {'queries':>8}  verdict")
    slow = []
    for name, (seconds, queries) in loaded.items():
        before = empty[name][0]
        verdict = "< 1 s" if seconds < LIMIT else "SLOW"
        if seconds >= LIMIT:
            slow.append(name)
        print(
            f"{name:<44} {before * 1000:>9.1f} {seconds * 1000:>10.1f} {seconds / before:>7.2f} "
            f"{len(queries):>8}  {verdict}"
        )

    slowest = max(loaded, key=lambda name: loaded[name][0])
    common.record(
        f"slowest admin page at 1M events ({slowest})", loaded[slowest][0] * 1000, "ms",
        baseline="the same page with a handful of rows", base=empty[slowest][0] * 1000, goal="< 1 s",
        met=not slow,
    )  # fmt: skip

    for name, (seconds, queries) in loaded.items():
        if seconds < EXPLAIN_FROM:
            continue
        print(f"\n{name}: {seconds * 1000:.0f} ms, its slowest queries (loaded):")
        for query in sorted(queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"  {float(query['time']) * 1000:8.1f} ms  {query['sql'][:400]}")

    if keep:
        print(f"\nkept the database {connection.settings_dict['NAME']}")
    else:
        common.drop_database()
    print(f"\n({time.time() - started:.0f} s)")
    if slow:
        sys.exit(f"{len(slow)} admin page(s) took a second or more: {', '.join(slow)}")


if __name__ == "__main__":
    main()
