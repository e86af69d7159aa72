import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from governance_site.audit.models import AuditEvent
from governance_site.policies import version_of
from heimdall.models import HeimdallPolicy, SandboxTrial

pytestmark = pytest.mark.django_db

SCORECARD = reverse("admin:heimdall_scorecard")
POLICY_ADD = reverse("admin:heimdall_heimdallpolicy_add")
FORM = {
    "enabled": "on",
    "min_confidence_prod": "0.85",
    "min_sandbox_trials": "30",
    "min_success_rate": "0.8",
    "trial_window_days": "14",
}


@pytest.fixture
def admin_client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def some_data(make_policy, add_trials):
    make_policy("WHOLESALE")
    add_trials("WHOLESALE", successes=1, failures=1, model_version="offer-v3")
    return SandboxTrial.objects.first()


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_admin_pages__governance_staff__200(admin_client_for, request, some_data, role):
    client = admin_client_for(request.getfixturevalue(role))
    policy = HeimdallPolicy.objects.get()
    for url in [
        reverse("admin:heimdall_heimdallpolicy_changelist"),
        reverse("admin:heimdall_heimdallpolicy_change", args=[policy.pk]),
        reverse("admin:heimdall_sandboxtrial_changelist"),
        reverse("admin:heimdall_sandboxtrial_changelist") + "?domain=WHOLESALE&model_version=offer-v3&success__exact=0",
        reverse("admin:heimdall_sandboxtrial_change", args=[some_data.pk]),
        SCORECARD,
        SCORECARD + "?date=2026-03-13",
    ]:
        assert client.get(url).status_code == 200, url


def test_changelists__link_to_the_scorecard(admin_client_for, operator):
    client = admin_client_for(operator)
    for model in ("heimdallpolicy", "sandboxtrial"):
        assert SCORECARD in client.get(reverse(f"admin:heimdall_{model}_changelist")).content.decode()


def test_scorecard_page__drop_from_yesterday__highlighted(admin_client_for, operator, add_trials):
    now = timezone.now()
    add_trials("WHOLESALE", successes=1, failures=1, at=now - dt.timedelta(days=1))
    add_trials("WHOLESALE", failures=1, at=now)
    page = admin_client_for(operator).get(SCORECARD).content.decode()
    assert 'id="scorecard-WHOLESALE" class="drop"' in page
    assert "−50.0 pp ▼" in page


def test_trials__never_added_changed_or_deleted_in_admin(admin_client_for, operator, superuser, some_data):
    for user in (operator, superuser):
        client = admin_client_for(user)
        assert client.get(reverse("admin:heimdall_sandboxtrial_add")).status_code == 403
        change = reverse("admin:heimdall_sandboxtrial_change", args=[some_data.pk])
        assert client.post(change, {"success": "on"}).status_code == 403
        delete = reverse("admin:heimdall_sandboxtrial_delete", args=[some_data.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    assert SandboxTrial.objects.count() == 2


def test_policy_add__operator__through_the_service_and_audited(admin_client_for, operator):
    client = admin_client_for(operator)
    assert client.get(POLICY_ADD).status_code == 200
    response = client.post(POLICY_ADD, {**FORM, "domain": "capital", "reason": "new lever"})
    assert response.status_code == 302
    policy = HeimdallPolicy.objects.get()
    assert (policy.domain, policy.min_sandbox_trials, policy.changed_by) == ("CAPITAL", 30, "op")
    event = AuditEvent.objects.get()
    assert (event.lever, event.action, event.actor_user, event.reason) == (
        "heimdall", "policy.create", operator, "new lever",
    )  # fmt: skip


def test_policy_change__operator__audited_with_before_and_after(admin_client_for, operator, make_policy):
    policy = make_policy("WHOLESALE", min_success_rate=0.75)
    change = reverse("admin:heimdall_heimdallpolicy_change", args=[policy.pk])
    form = {**FORM, "min_success_rate": "0.9", "reason": "Friday", "version": version_of(policy)}
    response = admin_client_for(operator).post(change, form)
    assert response.status_code == 302
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.reason) == ("policy.update", "Friday")
    assert (event.before["min_success_rate"], event.after["min_success_rate"]) == (0.75, 0.9)
    assert HeimdallPolicy.objects.get().domain == "WHOLESALE"


@pytest.mark.parametrize(("field", "value"), [("min_success_rate", "1.5"), ("trial_window_days", "0")])
def test_policy_add__invalid__form_error_and_nothing_written(admin_client_for, operator, field, value):
    response = admin_client_for(operator).post(POLICY_ADD, {**FORM, "domain": "CAPITAL", field: value})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not HeimdallPolicy.objects.exists()
    assert not AuditEvent.objects.exists()


def test_policy_change__viewer__403_and_nothing_changes(admin_client_for, viewer, make_policy):
    policy = make_policy("WHOLESALE")
    events = AuditEvent.objects.count()
    change = reverse("admin:heimdall_heimdallpolicy_change", args=[policy.pk])
    assert admin_client_for(viewer).post(change, {**FORM, "enabled": ""}).status_code == 403
    assert HeimdallPolicy.objects.get().enabled is True
    assert AuditEvent.objects.count() == events


def test_scorecard_page__no_governance_role__403(admin_client_for, django_user_model):
    staff = django_user_model.objects.create_user("staff-only", is_staff=True)
    assert admin_client_for(staff).get(SCORECARD).status_code == 403
