"""The admin screens of issue 14: scoped kill switches (engage, release with a reason), heartbeats,
the firm-wide caps, the tripwire cascade, acknowledging a throttle, demotions."""

import pytest

from golive import services as golive
from golive.models import ScopedKill
from governance_site.audit.models import AuditEvent
from heimdall import services as heimdall
from regression.models import CascadePolicy
from risk.models import FirmRiskPolicy

pytestmark = pytest.mark.django_db

KILLS = "/admin/golive/scopedkill/"


def test_scoped_kill__add__engaged_through_the_service_and_audited(client, operator):
    client.force_login(operator)
    body = {"scope": "domain", "target": "wholesale", "reason": "offers misfiring"}
    response = client.post(f"{KILLS}add/", body)
    assert response.status_code == 302, response.context["adminform"].form.errors
    kill = ScopedKill.objects.get()
    assert (str(kill), kill.engaged, kill.changed_by) == ("domain WHOLESALE", True, "op")
    assert AuditEvent.objects.get(action="kill_switch.engage").reason == "offers misfiring"


def test_scoped_kill__release_action__asks_a_reason_then_releases_only_it(client, operator, live):
    golive.set_kill_switch(engaged=True, reason="firm-wide", actor=operator)
    kill = golive.set_kill_switch(engaged=True, scope="engine", target="bot-1", reason="runaway", actor=operator)
    client.force_login(operator)
    page = client.post(KILLS, {"action": "release_kills", "_selected_action": [kill.pk]})
    assert page.status_code == 200 and b"never releases another" in page.content
    done = client.post(
        KILLS, {"action": "release_kills", "_selected_action": [kill.pk], "confirm": "yes", "reason": "bot fixed"}
    )
    assert done.status_code == 302
    assert not ScopedKill.objects.get().engaged
    assert golive.get_state().kill_switch_engaged
    assert AuditEvent.objects.filter(action="kill_switch.release", reason="bot fixed").count() == 1


def test_scoped_kill__viewer__sees_the_list_cannot_add(client, viewer, operator):
    golive.set_kill_switch(engaged=True, scope="domain", target="CAPITAL", reason="r", actor=operator)
    client.force_login(viewer)
    listing = client.get(KILLS)
    assert listing.status_code == 200 and b"ENGAGED" in listing.content
    assert client.get(f"{KILLS}add/").status_code == 403


def test_heartbeats__listed_with_connection(client, operator):
    golive.beat(actor="bot-1", max_silence_seconds=30)
    client.force_login(operator)
    response = client.get("/admin/golive/engineheartbeat/")
    assert response.status_code == 200 and b"beating" in response.content


def test_firm_policy__add_through_the_contract__audited(client, operator):
    client.force_login(operator)
    response = client.post(
        "/admin/risk/firmriskpolicy/add/", {"max_open_exposure": "100000", "max_daily_loss": "", "reason": "board"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert FirmRiskPolicy.objects.get().max_open_exposure == 100000
    assert AuditEvent.objects.get().reason == "board"
    assert client.get("/admin/risk/firmriskpolicy/add/").status_code == 403  # one row


def test_cascade__add_through_the_contract__audited(client, operator):
    client.force_login(operator)
    body = {"max_throttled_domains": "3", "stabilisation_seconds": "600", "blast_radius": "", "reason": "spec"}
    response = client.post("/admin/regression/cascadepolicy/add/", body)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert (CascadePolicy.objects.get().max_throttled_domains, AuditEvent.objects.get().lever) == (3, "regression")


def test_demotions__listed(client, operator):
    heimdall.demote_model_version(domain="WHOLESALE", model_version="v2", reason="tripwire", actor="tripwire/beat")
    client.force_login(operator)
    response = client.get("/admin/heimdall/modeldemotion/")
    assert response.status_code == 200 and b"v2" in response.content


def test_tripwire_acknowledge_action__asks_a_reason_then_acknowledged(client, operator, live):
    from regression import services as regression
    from regression.models import RegressionState
    from tests.regression.conftest import Feeder, outcomes

    regression.upsert_policy(
        domain="WHOLESALE", metric="contract_rate", changes={"enabled": True, "window_events": 10,
                                                            "baseline_events": 20}, actor="tests/setup",
    )  # fmt: skip
    Feeder()(outcomes(20, 20) + outcomes(0, 10))
    state = regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor="tripwire/beat")
    client.force_login(operator)
    url = "/admin/regression/regressionstate/"
    page = client.post(url, {"action": "acknowledge_throttles", "_selected_action": [state.pk]})
    assert page.status_code == 200 and b"blast radius" in page.content
    body = {"action": "acknowledge_throttles", "_selected_action": [state.pk], "apply": "yes", "reason": "seen"}
    assert client.post(url, body).status_code == 302
    assert RegressionState.objects.get(pk=state.pk).acknowledged_by == "op"
    assert AuditEvent.objects.get(action="tripwire.acknowledge").reason == "seen"
