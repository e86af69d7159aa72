"""What each kind of change request changes: its parameters, what it would do read from the world
(target, diff, the state it is made against, whether it loosens anything) and how it is applied,
always through the lever's own service (a policy through its contract's upsert)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

from golive import services as golive
from golive.models import KillScope
from governance_site.audit import services as audit
from governance_site.audit.models import Lever
from governance_site.errors import InvalidInput, NotFound
from governance_site.identifiers import DOMAIN, METRIC
from governance_site.policies import PolicyContract, version_of
from heimdall import services as heimdall
from regression import cascade as regression_cascade
from regression import selectors as regression_selectors
from regression import services as regression
from regression.models import PolicyAction
from risk import services as risk

from .models import Kind

CONTRACTS: dict[str, PolicyContract] = {
    **{contract.lever: contract for contract in (risk.POLICY, heimdall.POLICY, regression.POLICY)},
    # The one-row policies: named apart from their lever's per-domain policy.
    "risk.firm": risk.FIRM_POLICY,
    "regression.cascade": regression_cascade.CASCADE,
}


@dataclass(frozen=True)
class Inspection:
    lever: str
    target: str
    diff: dict  # {field: [before, after]}
    seen: dict  # what must still hold when the change is applied
    loosens: bool
    nothing_to_do: str = ""  # why there is nothing to request (already done), if so


@dataclass(frozen=True)
class KindSpec:
    clean: Callable[[dict], dict]  # the parameters, checked (InvalidInput naming params.<name>)
    inspect: Callable[[dict], Inspection]
    apply: Callable[..., object]  # (params, *, actor, reason)


def _invalid(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"params.{name}: {message}", field=f"params.{name}")


def _only(params: dict, names: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise _invalid(unknown[0], "not a parameter of this kind of change.")


def _no_params(params: dict) -> dict:
    _only(params, ())
    return {}


def _production(field: str, to: bool) -> Callable[[dict], Inspection]:
    def inspect(params: dict) -> Inspection:
        state = golive.get_state()
        seen = {"kill_switch_engaged": state.kill_switch_engaged, "go_live_enabled": state.go_live_enabled}
        return Inspection(
            lever=Lever.GOLIVE, target=str(state), diff={field: [not to, to]}, seen=seen, loosens=True,
            nothing_to_do=f"{field} is already {to}." if seen[field] == to else "",
        )  # fmt: skip

    return inspect


def _kill_params(params: dict) -> dict:
    """{} for the global kill switch, or {"scope": "domain" | "engine" | "model_version", "target": ...}."""
    _only(params, ("scope", "target"))
    scope = params.get("scope") or KillScope.GLOBAL
    if scope not in KillScope.values:
        raise _invalid("scope", f"one of {', '.join(KillScope.values)}.")
    if scope == KillScope.GLOBAL:
        if params.get("target"):
            raise _invalid("target", "the global kill switch has no target.")
        return {}
    try:
        kill = golive.scoped_kill(scope=scope, target=params.get("target"))
    except InvalidInput as exc:
        raise _invalid("target", exc.detail.removeprefix("target: ")) from exc
    return {"scope": scope, "target": kill.target}


def _kill(params: dict) -> Inspection:
    if not params:
        return _production("kill_switch_engaged", False)(params)
    kill = golive.scoped_kill(scope=params["scope"], target=params["target"])
    return Inspection(
        lever=Lever.GOLIVE, target=str(kill), diff={"engaged": [True, False]}, seen={"engaged": kill.engaged},
        loosens=True, nothing_to_do="" if kill.engaged else f"the {kill} kill switch is already released.",
    )  # fmt: skip


def _tripwire_params(params: dict) -> dict:
    _only(params, ("domain", "metric"))
    cleaned = {}
    for identifier in (DOMAIN, METRIC):
        if params.get(identifier.name) in (None, ""):
            raise _invalid(identifier.name, "required.")
        try:
            cleaned[identifier.name] = identifier.normalize(params[identifier.name])
        except ValueError as exc:
            raise _invalid(identifier.name, str(exc)) from exc
    return cleaned


def _tripwire(params: dict) -> Inspection:
    key = {"policy__domain": params["domain"], "policy__metric": params["metric"]}
    state = regression_selectors.states().filter(**key).first()
    if state is None:
        raise NotFound(f"No regression policy for {params['domain']}.{params['metric']}.")
    return Inspection(
        lever=Lever.REGRESSION,
        target=str(state.policy),
        diff={"triggered": [True, False]},
        seen={"triggered_at": state.triggered_at and state.triggered_at.isoformat(), "action": state.action_taken},
        loosens=state.action_taken == PolicyAction.KILL_SWITCH,
        nothing_to_do="" if state.triggered else "it is not triggered.",
    )


def _policy_params(params: dict) -> dict:
    """{"lever": "risk", "key": {"domain": ...}, "changes": {field: value}}, checked by the contract."""
    _only(params, ("lever", "key", "changes"))
    contract = CONTRACTS.get(params.get("lever"))
    if contract is None:
        raise _invalid("lever", f"one of {', '.join(CONTRACTS)}.")
    key, changes = params.get("key"), params.get("changes")
    if not isinstance(key, dict):
        raise _invalid("key", f"an object with {', '.join(contract.key_names)}.")
    if not isinstance(changes, dict) or not changes:
        raise _invalid("changes", "an object with the fields to change.")
    try:
        name = params["lever"]  # the contract's name in CONTRACTS (a lever, or "risk.firm", "regression.cascade")
        return {"lever": name, "key": contract.clean_key(key), "changes": contract.clean_changes(changes)}
    except InvalidInput as exc:
        raise InvalidInput(f"params.{exc.detail}", field=f"params.{exc.field}") from exc


def _json(value):
    """A value as the request stores it (JSON: decimals and times as strings)."""
    return DjangoJSONEncoder().default(value) if not isinstance(value, str | int | float | bool | None) else value


def _policy(params: dict) -> Inspection:
    contract = CONTRACTS[params["lever"]]
    current = contract.model.objects.filter(**params["key"]).first()
    before = audit.snapshot(current) if current else None
    after = contract.validated(current or contract.model(**params["key"]), params["changes"])
    start = before if before is not None else audit.snapshot(contract.model())
    diff = {name: [_json(start.get(name)), _json(getattr(after, name))] for name in params["changes"]}
    return Inspection(
        lever=contract.lever,
        target=f"{contract.title} {' '.join(params['key'].values())}".strip(),
        diff={name: values for name, values in diff.items() if values[0] != values[1]},
        seen={"version": current and version_of(current)},
        loosens=bool(contract.loosened(before, after)),
        nothing_to_do="" if any(values[0] != values[1] for values in diff.values()) else "it already has these values.",
    )


def _apply_policy(params: dict, *, actor, reason: str):
    contract = CONTRACTS[params["lever"]]
    current = contract.model.objects.filter(**params["key"]).first()
    return contract.upsert(key=params["key"], changes=params["changes"], actor=actor, reason=reason,
                           version=current and version_of(current))  # fmt: skip


KINDS: dict[str, KindSpec] = {
    Kind.KILL_SWITCH_RELEASE: KindSpec(
        _kill_params, _kill, lambda params, **kw: golive.set_kill_switch(engaged=False, **params, **kw),
    ),
    Kind.GO_LIVE_ENABLE: KindSpec(
        _no_params, _production("go_live_enabled", True), lambda params, **kw: golive.set_go_live(enabled=True, **kw),
    ),
    Kind.TRIPWIRE_RESET: KindSpec(
        _tripwire_params, _tripwire,
        lambda params, **kw: regression.reset(domain=params["domain"], metric=params["metric"], **kw),
    ),
    Kind.POLICY_UPDATE: KindSpec(_policy_params, _policy, _apply_policy),
}  # fmt: skip


def spec(kind: str) -> KindSpec:
    if kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}.", field="kind")
    return KINDS[kind]


def clean_params(kind: str, params) -> dict:
    if not isinstance(params, dict):
        raise InvalidInput("params: an object.", field="params")
    return spec(kind).clean(params)
