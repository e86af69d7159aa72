"""Hostile input: schemathesis against the service's own OpenAPI schema, every operation, as
operator, engine and viewer; then the issue's explicit cases.

Held means: no 5xx, every answer conforms to the schema (status code, content type, body), every
answer is JSON, and a rejected request (4xx) wrote nothing (a fingerprint of every table but the
token and session tables is the same before and after it).
"""

import collections
import contextlib
import json

import psycopg
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from psycopg import sql
from schemathesis import GenerationMode, checks, openapi
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup

from .harness import App, Web, describe, is_json, log, new_seed
from .report import Row

ROLES = ("operator", "engine", "viewer")
SCHEMA_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
UNWATCHED_TABLES = ("token", "session")  # what authenticating a request may write


class Fingerprint:
    """One query that changes whenever any row of any watched table is added, changed or deleted."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        tables = [
            name
            for (name,) in self.conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            if not any(word in name for word in UNWATCHED_TABLES)
        ]
        parts = " || ".join(
            f"(SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {sql.Identifier(name).as_string(self.conn)} t)"  # noqa: E501
            for name in tables
        )
        self.query = f"SELECT md5({parts})"

    def __call__(self) -> str:
        return self.conn.execute(self.query).fetchone()[0]


class Tally:
    def __init__(self):
        self.calls = 0
        self.rejected = 0
        self.failures: dict[str, list[str]] = {}
        self.groups: dict[str, collections.Counter] = {}
        self.failed_calls: set[int] = set()
        self.exercised: collections.Counter = collections.Counter()

    def fail(self, kind: str, example: str, *, group: str | None = None) -> None:
        """One failure of `kind`; `group` (default: the example) gathers the same failure seen again."""
        self.failures.setdefault(kind, []).append(example)
        self.groups.setdefault(kind, collections.Counter())[group or example] += 1
        self.failed_calls.add(self.calls)

    @property
    def held(self) -> int:
        return self.calls - len(self.failed_calls)

    def write(self, path) -> None:
        with open(path, "a", errors="backslashreplace") as out:
            for kind, examples in self.failures.items():
                out.writelines(f"{kind}\t{example}\n" for example in examples)

    def summary(self) -> list[str]:
        """Per kind: how many, and the commonest (or first) few, each with its count."""
        parts = []
        for kind, examples in self.failures.items():
            groups = self.groups[kind].most_common(3)
            more = len(self.groups[kind]) - len(groups)
            shown = "; ".join(f"{group} ×{n}" if n > 1 else group for group, n in groups)
            parts.append(f"{kind}: {len(examples)} ({shown}{f'; and {more} more' if more > 0 else ''})")
        return parts


def _fuzz(app: App, web: Web, *, examples: int, fingerprint: Fingerprint, tally: Tally, rng_seed: int) -> int:
    status, _, body = web.get("/api/schema/?format=json", token=app.tokens["viewer"])
    if status != 200:
        raise RuntimeError(f"GET /api/schema/ answered {status}")
    schema = openapi.from_dict(json.loads(body))
    operations = [result.ok() for result in schema.get_all_operations()]
    last = [fingerprint()]

    for role in ROLES:
        headers = {"Authorization": f"Token {app.tokens[role]}"}
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                check_one = _checker(role, headers, web, fingerprint, tally, last)
                test = seed(rng_seed)(
                    settings(
                        max_examples=examples,
                        deadline=None,
                        database=None,
                        phases=[Phase.explicit, Phase.generate],
                        suppress_health_check=list(HealthCheck),
                    )(given(case=operation.as_strategy(generation_mode=mode))(check_one))
                )
                with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no body, no parameters)
                    test()
    for role in ROLES:
        for operation in operations:
            if not tally.exercised[(role, operation.method.upper(), operation.path)]:
                tally.fail("operation never called", f"{role} {operation.method.upper()} {operation.path}")
    return len(operations)


def _checker(role: str, headers: dict, web: Web, fingerprint: Fingerprint, tally: Tally, last: list):
    """The body of one property test: call, check against the schema, look for writes on a rejection."""

    def check_one(case):
        tally.calls += 1
        tally.exercised[(role, case.method, case.path)] += 1
        sent = case.body if not isinstance(case.body, NotSet) else case.query
        label = f"{role} {case.method} {case.path} {_short(sent)}"
        try:
            response = case.call(base_url=web.base, headers=headers, timeout=30)
        except Exception as error:  # no answer at all
            tally.fail("no answer", f"{label} → {error!r}"[:300])
            return
        answer = f"{label} → {response.status_code} {_short(response.content)}"
        try:
            case.validate_response(response, checks=SCHEMA_CHECKS, headers=headers)
        except (Failure, FailureGroup) as failure:
            title = ", ".join(sorted({f.title for f in getattr(failure, "exceptions", [failure])}))
            tally.fail(
                "5xx" if response.status_code >= 500 else "schema",
                f"{answer} [{title}]"[:400],
                group=f"{case.method} {case.path} → {response.status_code} [{title}]",
            )
        headers_seen = {k: v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
        if response.content and not is_json(headers_seen, response.content):
            tally.fail("not JSON", answer[:300], group=f"{case.method} {case.path} → {response.status_code}")
        now = fingerprint()
        if response.status_code >= 400:
            tally.rejected += 1
            if now != last[0]:
                tally.fail("write from a rejected request", answer[:300], group=f"{case.method} {case.path}")
        last[0] = now

    return check_one


def _short(value, limit: int = 120) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif not isinstance(value, str):
        try:
            value = json.dumps(value, default=str)
        except (TypeError, ValueError):
            value = repr(value)
    value = " ".join(value.split())
    return value if len(value) <= limit else value[:limit] + "…"


# --- the cases ------------------------------------------------------------------------------

API = "/api/governance"
JSON_POSTS = [
    "/go-live/kill-switch", "/go-live/enable", "/risk/policies/upsert", "/risk/reserve", "/risk/settle",
    "/risk/release", "/heimdall/policies/upsert", "/heimdall/trials", "/heimdall/check",
    "/regression/policies/upsert", "/regression/evaluate", "/regression/kpi", "/regression/kpi/batch",
    "/regression/reset",
]  # fmt: skip
MAX_BATCH = 10_000


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _batch_event(index: int) -> dict:
    """An event with every text field at its longest: the documented batch at its largest."""
    return {
        "domain": "D" * 64,
        "metric": "m" * 64,
        "success": True,
        "value": -123456789.123456789,
        "actor": "a" * 150,
        "event_id": f"{index:0128d}",
        "occurred_at": "2026-01-01T00:00:00.000000+00:00",
    }


def _cases(app: App, web: Web) -> list[dict]:
    """(name, method, path, raw body, token, allowed statuses, field the answer must name or None)."""
    op = app.tokens["operator"]
    cases = []

    def add(name, path, body, *, allowed, field=None, token=op, raw=None, method="POST", headers=None):
        raw = raw if raw is not None or method == "GET" else json.dumps(body, allow_nan=True).encode()
        cases.append({"name": name, "method": method, "path": API + path, "raw": raw, "headers": headers,
                      "token": token, "allowed": allowed, "field": field})  # fmt: skip

    for path in JSON_POSTS:
        add(f"1,000-level nested JSON {path}", path, None, raw=_nested(1000).encode(), allowed={400})
        add(
            f"1,000-level nested value {path}", path, None, raw=f'{{"domain": {_nested(1000)}}}'.encode(), allowed={400}
        )
    add("body over the size limit (40 MB)", "/regression/kpi/batch", None,
        raw=json.dumps([_batch_event(i) for i in range(70_000)]).encode(), allowed={413})  # fmt: skip
    add(f"the documented {MAX_BATCH:,}-event batch, every field at its longest", "/regression/kpi/batch",
        [_batch_event(i) for i in range(MAX_BATCH)], allowed={201}, token=app.tokens["engine"])  # fmt: skip
    lone = '"\\ud800"'
    for path, template, field in [
        ("/risk/reserve", '{"domain": %s, "amount": "1"}', "domain"),
        ("/risk/reserve", '{"domain": "WHOLESALE", "amount": "1", "ref": %s}', "ref"),
        ("/regression/policies/upsert", '{"domain": "WHOLESALE", "metric": "contract_rate", "kind": %s}', "kind"),
        ("/regression/policies/upsert", '{"domain": "WHOLESALE", "metric": "contract_rate", "action": %s}', "action"),
        ("/go-live/kill-switch", '{"engaged": false, "reason": %s}', "reason"),
        ("/regression/kpi", '{"domain": "WHOLESALE", "metric": "m", "success": true, "event_id": %s}', "event_id"),
        ("/heimdall/trials", '{"domain": "WHOLESALE", "confidence": 0.5, "success": true, "model_version": %s}',
         "model_version"),
    ]:  # fmt: skip
        add(
            f"lone surrogate in {field} ({path})",
            path,
            None,
            raw=(template % lone).encode(),
            allowed={400},
            field=field,
        )
    for literal in ("NaN", "Infinity", "-Infinity", "1e400", str(10**40), "-" + str(10**40)):
        for path, template, field in [
            ("/risk/reserve", '{"domain": "W", "amount": %s}', "amount"),
            ("/risk/policies/upsert", '{"domain": "W", "max_daily_loss": %s}', "max_daily_loss"),
            ("/regression/kpi", '{"domain": "W", "metric": "m", "value": %s}', "value"),
            ("/heimdall/check", '{"domain": "W", "confidence": %s}', "confidence"),
        ]:
            add(f"{field} {literal[:8]}", path, None, raw=(template % literal).encode(), allowed={400}, field=field)
    for blank in ("", " "):
        add(f"max_action_amount {blank!r}", "/risk/policies/upsert",
            {"domain": "CAPPED", "max_action_amount": blank, "reason": "drill"}, allowed={400},
            field="max_action_amount")  # fmt: skip
    # Past gunicorn's limits (gunicorn.conf.py): answered by the server itself, in JSON too.
    add("a 9,000-character query string", "/go-live/check?scope=" + "x" * 9000, None, method="GET", allowed={414})
    add("a 9,000-byte header", "/go-live/check", None, method="GET", headers={"X-Big": "x" * 9000}, allowed={431})
    add("150 headers", "/go-live/check", None, method="GET", headers={f"X-H{n}": "x" for n in range(150)},
        allowed={431})  # fmt: skip
    return cases


def _overflow_case(app: App, web: Web, tally: Tally) -> str:
    """Settles whose valid, large pnls add up past what a day's total can hold: each a 201/200 or a
    400 naming realized_pnl, and the domain still settles afterwards."""
    op, fail = app.tokens["operator"], tally.fail
    big = "9" * 16 + ".9999"
    web.post(f"{API}/go-live/kill-switch", {"engaged": False, "reason": "drill"}, token=op)
    web.post(f"{API}/go-live/enable", {"enabled": True, "reason": "drill"}, token=op)
    # The fuzzing before may have registered a heartbeat for this principal and let it lapse (a
    # lapsed engine is refused, rightly): beat once with a long allowance.
    web.post(f"{API}/go-live/heartbeat", {"max_silence_seconds": 24 * 3600}, token=op)
    # ... and may have set firm-wide caps (a firm daily loss of 0 denies every reserve): none here.
    no_caps = {"max_open_exposure": None, "max_daily_loss": None, "reason": "drill"}
    status, _, body = web.post(f"{API}/risk/firm-policy/upsert", no_caps, token=op)
    if status not in (200, 201):
        fail("pnl overflow", f"firm policy upsert → {status} {_short(body)}")
        return "setup failed"
    status, _, body = web.post(
        f"{API}/risk/policies/upsert",
        {"domain": "OVERFLOW", "enabled": True, "max_daily_loss": big, "max_open_exposure": big,
         "max_daily_actions": 100, "max_action_amount": None, "reason": "drill"},
        token=op,
    )  # fmt: skip
    if status not in (200, 201):
        fail("pnl overflow", f"policy upsert → {status} {_short(body)}")
        return "setup failed"
    answers = []
    for index in range(4):
        tally.calls += 1
        status, headers, body = web.post(
            f"{API}/risk/reserve", {"domain": "OVERFLOW", "amount": "1", "idempotency_key": f"ovf-{index}"}, token=op
        )
        reservation = json.loads(body) if is_json(headers, body) else {}
        if status != 200 or not reservation.get("ok"):
            fail("pnl overflow", f"reserve #{index} → {status} {_short(body)}")
            return "setup failed"
        reservation = reservation["reservation_id"]
        pnl = "1" if index == 3 else big  # the last one: an ordinary settle after the big ones
        status, headers, body = web.post(
            f"{API}/risk/settle", {"reservation_id": reservation, "realized_pnl": pnl}, token=op
        )
        answers.append(status)
        answer = f"settle #{index} pnl {pnl} → {status} {describe(headers, body)}"
        if not is_json(headers, body) or status >= 500:
            fail("pnl overflow", answer)
        elif status == 400 and json.loads(body).get("field") != "realized_pnl":
            fail("pnl overflow", answer + " (must name realized_pnl)")
        elif index == 3 and status != 200:
            fail("pnl overflow", answer + " (the day is wedged)")
    return "→".join(map(str, answers))


def run(app: App, web: Web, *, examples: int) -> list[Row]:
    tally = Tally()
    fingerprint = Fingerprint(app.pg.url(app.db))
    rng_seed = new_seed()
    log(f"hostile input: schemathesis, {examples} examples per operation, mode and role (seed {rng_seed})")
    operations = _fuzz(app, web, examples=examples, fingerprint=fingerprint, tally=tally, rng_seed=rng_seed)
    rows = [
        Row(
            drill="hostile: schemathesis",
            tried=f"{tally.calls} requests: {operations} operations × {len(ROLES)} roles × positive/negative, "
            f"seed {rng_seed}",
            held=f"{tally.held} answers conform; {tally.rejected} rejections checked for writes",
            lost=tally.summary(),
        )
    ]

    log("hostile input: the issue's explicit cases")
    explicit = Tally()
    for case in _cases(app, web):
        before = fingerprint()
        status, headers, body = web.request(
            case["method"], case["path"], token=case["token"], raw=case["raw"], headers=case["headers"], timeout=60
        )
        explicit.calls += 1
        answer = f"{case['name']} → {status} {describe(headers, body)}"
        if not is_json(headers, body):
            explicit.fail("not JSON", answer)
        elif status not in case["allowed"]:
            explicit.fail(f"not {'/'.join(map(str, sorted(case['allowed'])))}", answer)
        elif case["field"] and json.loads(body).get("field") != case["field"]:
            explicit.fail("field not named", answer)
        if status >= 400 and fingerprint() != before:
            explicit.fail("write from a rejected request", answer)
    overflow = _overflow_case(app, web, explicit)
    rows.append(
        Row(
            drill="hostile: the issue's cases",
            tried=f"{explicit.calls} requests: 1,000-level nesting on {len(JSON_POSTS)} endpoints, 40 MB body, "
            f"a max-size 10,000 batch, lone surrogates, NaN/±Infinity, 1e400/10^40, max_action_amount ''/' ', "
            "a 9,000-character query string, a 9,000-byte header, 150 headers, "
            f"pnl overflow (settles {overflow})",
            held=f"{explicit.held} answered as required",
            lost=explicit.summary(),
        )
    )
    fingerprint.conn.close()
    for each in (tally, explicit):
        each.write(app.workdir / "hostile-failures.txt")
    return rows
