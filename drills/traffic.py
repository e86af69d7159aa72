"""Engine-like clients: KPI events (single and batches with overlapping event_ids), reserve then
settle or release, and the gate's questions. Every answer is recorded, with what it acknowledged."""

import dataclasses
import json
import random
import threading
import time
import zlib

from .harness import Web, describe, is_json

API = "/api/governance"
BATCH_SPAN = 600  # a batch draws from the next span of new event_ids, so concurrent batches overlap
BATCH_STEP = 150  # how far each batch moves the span on
METRICS = ("m0", "m1", "m2", "m3")


def kpi_event(number: int, domain: str) -> dict:
    """Event `number`, always described the same way (so a repeat is a replay, not a conflict)."""
    digest = zlib.crc32(f"{domain}-{number}".encode())
    return {
        "domain": domain,
        "metric": METRICS[number % len(METRICS)],
        "success": digest % 10 < 7,
        "event_id": f"{domain}-{number}",
    }


@dataclasses.dataclass
class Answer:
    at: float  # seconds since the traffic started
    what: str
    status: int  # 0: no answer (refused, reset, timed out)
    elapsed: float
    json: bool
    body: dict | None
    headers: dict
    text: str


class Traffic:
    def __init__(self, webs: list[Web], tokens: list[str], *, risk_domains, kpi_domain: str, timeout: float):
        self.webs, self.tokens, self.timeout = webs, tokens, timeout
        self.risk_domains, self.kpi_domain = list(risk_domains), kpi_domain
        self.answers: list[Answer] = []
        self.kpi_acked: set[str] = set()
        self.kpi_unanswered: set[str] = set()
        self.reservations: dict[int, dict] = {}  # acknowledged (ok: true) → {"settled_pnl": str|None}
        self.frontier = 0  # the first event_id number of the next batch's span
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def _call(self, rng, what: str, method: str, path: str, token: str, body=None) -> Answer:
        web = rng.choice(self.webs)
        begin = time.monotonic()
        status, headers, raw = web.request(method, API + path, token=token, body=body, timeout=self.timeout)
        elapsed = time.monotonic() - begin
        ok_json = is_json(headers, raw)
        answer = Answer(
            at=begin - self.started,
            what=what,
            status=status,
            elapsed=elapsed,
            json=ok_json,
            body=json.loads(raw) if ok_json else None,
            headers={k.lower(): v for k, v in headers.items()},
            text=describe(headers, raw, 200) if status else raw[:200].decode("utf-8", "replace"),
        )
        with self.lock:
            self.answers.append(answer)
        return answer

    def _kpi(self, rng, token: str, batch: bool) -> None:
        with self.lock:
            start = self.frontier
            self.frontier += BATCH_STEP if batch else 0
        if batch:  # in random order: two batches sharing new event_ids meet them in different orders
            numbers = rng.sample(range(start, start + BATCH_SPAN), rng.randint(50, 300))
        else:  # one event, new or already posted
            numbers = [rng.randrange(start + BATCH_SPAN)]
        events = [kpi_event(n, self.kpi_domain) for n in numbers]
        if batch:
            answer = self._call(rng, "kpi batch", "POST", "/regression/kpi/batch", token, events)
        else:
            answer = self._call(rng, "kpi", "POST", "/regression/kpi", token, events[0])
        ids = {e["event_id"] for e in events}
        with self.lock:
            if answer.status in (200, 201):
                self.kpi_acked |= ids
            elif answer.status == 0:
                self.kpi_unanswered |= ids

    def _reserve_settle(self, rng, token: str, client: int, step: int) -> None:
        domain = rng.choice(self.risk_domains)
        amount = str(rng.randint(1, 1000))
        body = {"domain": domain, "amount": amount, "idempotency_key": f"c{client}-{step}", "ref": f"c{client}-{step}"}
        answer = self._call(rng, "reserve", "POST", "/risk/reserve", token, body)
        if answer.status != 200 or not answer.body or not answer.body.get("ok"):
            return
        rid = answer.body["reservation_id"]
        with self.lock:
            self.reservations[rid] = {"settled_pnl": None}
        if rng.random() < 0.7:
            pnl = str(rng.randint(-300, 150))
            answer = self._call(
                rng, "settle", "POST", "/risk/settle", token, {"reservation_id": rid, "realized_pnl": pnl}
            )
            if answer.status == 200:
                with self.lock:
                    self.reservations[rid]["settled_pnl"] = pnl
        else:
            self._call(rng, "release", "POST", "/risk/release", token, {"reservation_id": rid})

    def _client(self, index: int, until: float, stop: threading.Event, seed: int) -> None:
        """One engine: every fourth posts KPI batches only; the others mix single events, reserve
        then settle or release, and the gate's questions."""
        rng = random.Random(seed * 1000 + index)
        token = self.tokens[index % len(self.tokens)]
        step = 0
        while time.monotonic() < until and not stop.is_set():
            step += 1
            roll = rng.random()
            if index % 4 == 0:
                self._kpi(rng, token, batch=True)
            elif roll < 0.35:
                self._kpi(rng, token, batch=False)
            elif roll < 0.90:
                self._reserve_settle(rng, token, index, step)
            elif roll < 0.95:
                self._call(rng, "go-live check", "GET", "/go-live/check", token)
            else:
                body = {"domain": rng.choice(self.risk_domains), "confidence": 0.9}
                self._call(rng, "heimdall check", "POST", "/heimdall/check", token, body)

    def run(self, *, clients: int, seconds: float, seed: int, stop: threading.Event | None = None) -> float:
        """Run `clients` threads for `seconds`; returns the wall time taken."""
        stop = stop or threading.Event()
        self.started = time.monotonic()
        until = self.started + seconds
        threads = [
            threading.Thread(target=self._client, args=(i, until, stop, seed), daemon=True) for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + self.timeout + 30)
        return time.monotonic() - self.started

    def told(self) -> dict:
        return {
            "kpi_domains": [self.kpi_domain],
            "risk_domains": self.risk_domains,
            "kpi_acked": sorted(self.kpi_acked),
            "kpi_unanswered": sorted(self.kpi_unanswered - self.kpi_acked),
            "reservations": {str(k): v for k, v in self.reservations.items()},
        }


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def failed(answer: Answer) -> bool:
    """A request that failed: no answer, a 5xx, anything not JSON (but a 204), or a 4xx that is not
    the gate's decision (423)."""
    if answer.status == 204:
        return False
    if answer.status == 0 or answer.status >= 500 or not answer.json:
        return True
    return answer.status >= 400 and answer.status != 423
