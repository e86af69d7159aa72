import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from golive import services as golive
from governance_site.audit import services as audit
from governance_site.audit.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db

AUDIT = "/api/governance/audit"


@pytest.fixture
def trail(operator, superuser):
    golive.set_go_live(enabled=True, reason="launch", actor=operator)
    golive.set_kill_switch(engaged=True, reason="drill", actor=superuser)
    with transaction.atomic():
        state = golive.get_state()
        audit.record(actor="tripwire/beat", lever="risk", instance=state, action="x", before={})
    return list(AuditEvent.objects.order_by("id"))


def test_audit_event__change_or_delete__refused(trail):
    event = trail[0]
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "launch"


@pytest.mark.django_db(transaction=True)
def test_record__outside_a_transaction__refused():
    with pytest.raises(RuntimeError):
        audit.record(actor="x", lever="golive", instance=golive.get_state(), action="x", before={})


def test_audit_api__newest_first_with_fields(api, viewer, trail):
    response = api(viewer).get(AUDIT)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [e["action"] for e in body["results"]] == ["x", "kill_switch.engage", "go_live.enable"]
    assert body["results"][1]["actor"] == "root"
    assert body["results"][1]["reason"] == "drill"
    assert body["results"][1]["after"]["kill_switch_engaged"] is True


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ("lever=golive", ["kill_switch.engage", "go_live.enable"]),
        ("actor=tripwire/beat", ["x"]),
        ("actor=op", ["go_live.enable"]),
        ("unexplained=true", ["x"]),  # recorded without a reason
        ("unexplained=false", ["kill_switch.engage", "go_live.enable"]),
    ],
)
def test_audit_api__filters(api, viewer, trail, query, actions):
    response = api(viewer).get(f"{AUDIT}?{query}")
    assert [e["action"] for e in response.json()["results"]] == actions


def test_audit_api__since__only_later_events(api, viewer, trail):
    cutoff = timezone.now() + dt.timedelta(seconds=1)
    assert api(viewer).get(AUDIT, {"since": cutoff.isoformat()}).json()["count"] == 0
    earlier = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    assert api(viewer).get(AUDIT, {"since": earlier}).json()["count"] == 3


@pytest.mark.parametrize(("query", "field"), [("lever=nope", "lever"), ("since=yesterday", "since")])
def test_audit_api__bad_filter__400_naming_field(api, viewer, query, field):
    response = api(viewer).get(f"{AUDIT}?{query}")
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_audit_api__anonymous_401_and_no_role_403(api, nobody):
    assert api(None).get(AUDIT).status_code == 401
    assert api(nobody).get(AUDIT).status_code == 403


def test_audit_admin__read_only_and_filterable(client, operator, trail):
    client.force_login(operator)
    by_actor = client.get("/admin/audit/auditevent/", {"actor": "tripwire/beat"})
    assert [event.action for event in by_actor.context["cl"].result_list] == ["x"]
    listing = client.get("/admin/audit/auditevent/?lever__exact=golive")
    assert listing.status_code == 200
    assert b"kill_switch.engage" in listing.content
    assert b"/admin/audit/auditevent/add/" not in listing.content
    detail = client.get(f"/admin/audit/auditevent/{trail[1].pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert client.post(f"/admin/audit/auditevent/{trail[1].pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.count() == 3


def test_audit_admin__times_shown_with_the_business_time_zone(client, operator, trail, settings):
    settings.TIME_ZONE = settings.GOVERNANCE_TIME_ZONE = "America/New_York"
    client.force_login(operator)
    page = client.get(f"/admin/audit/auditevent/{trail[0].pk}/change/").content.decode()
    local = trail[0].created_at.astimezone(ZoneInfo("America/New_York"))
    assert local.strftime("%Y-%m-%d %H:%M") in page
    assert " EST" in page or " EDT" in page
