"""What each kind of change request changes: read it from the world (target, diff, the state it
is made against, whether it loosens anything) and apply it through the lever's own service."""

from collections.abc import Callable
from dataclasses import dataclass

from golive import services as golive
from governance_site.audit.models import Lever
from governance_site.errors import InvalidInput, NotFound
from regression import selectors as regression_selectors
from regression import services as regression
from regression.models import PolicyAction

from .models import Kind


@dataclass(frozen=True)
class Inspection:
    target: str
    diff: dict  # {field: [before, after]}
    seen: dict  # what must still hold when the change is applied
    loosens: bool
    nothing_to_do: str = ""  # why there is nothing to request (already done), if so


@dataclass(frozen=True)
class KindSpec:
    lever: str
    params: tuple[str, ...]  # the parameters it takes (all required)
    inspect: Callable[[dict], Inspection]
    apply: Callable[..., object]  # (params, *, actor, reason)


def _production(field: str, to: bool) -> Callable[[dict], Inspection]:
    def inspect(params: dict) -> Inspection:
        state = golive.get_state()
        seen = {"kill_switch_engaged": state.kill_switch_engaged, "go_live_enabled": state.go_live_enabled}
        done = f"{field} is already {to}." if seen[field] == to else ""
        return Inspection(target=str(state), diff={field: [not to, to]}, seen=seen, loosens=True, nothing_to_do=done)

    return inspect


def _tripwire(params: dict) -> Inspection:
    key = {"policy__domain": params["domain"], "policy__metric": params["metric"]}
    state = regression_selectors.states().filter(**key).first()
    if state is None:
        raise NotFound(f"No regression policy for {params['domain']}.{params['metric']}.")
    return Inspection(
        target=str(state.policy),
        diff={"triggered": [True, False]},
        seen={"triggered_at": state.triggered_at and state.triggered_at.isoformat(), "action": state.action_taken},
        loosens=state.action_taken == PolicyAction.KILL_SWITCH,
        nothing_to_do="" if state.triggered else "it is not triggered.",
    )


KINDS: dict[str, KindSpec] = {
    Kind.KILL_SWITCH_RELEASE: KindSpec(
        Lever.GOLIVE, (), _production("kill_switch_engaged", False),
        lambda params, **kw: golive.set_kill_switch(engaged=False, **kw),
    ),
    Kind.GO_LIVE_ENABLE: KindSpec(
        Lever.GOLIVE, (), _production("go_live_enabled", True),
        lambda params, **kw: golive.set_go_live(enabled=True, **kw),
    ),
    Kind.TRIPWIRE_RESET: KindSpec(
        Lever.REGRESSION, ("domain", "metric"), _tripwire,
        lambda params, **kw: regression.reset(domain=params["domain"], metric=params["metric"], **kw),
    ),
}  # fmt: skip


def spec(kind: str) -> KindSpec:
    if kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}.", field="kind")
    return KINDS[kind]


def clean_params(kind: str, params) -> dict:
    if not isinstance(params, dict):
        raise InvalidInput("params: an object.", field="params")
    wanted = spec(kind).params
    for name in wanted:
        if not isinstance(params.get(name), str) or not params[name].strip():
            raise InvalidInput(f"params.{name}: required.", field=f"params.{name}")
    unknown = sorted(set(params) - set(wanted))
    if unknown:
        raise InvalidInput(f"params.{unknown[0]}: not a parameter of {kind}.", field=f"params.{unknown[0]}")
    return {name: params[name].strip() for name in wanted}
