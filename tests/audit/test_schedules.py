"""The beat schedules (django-celery-beat) in the admin: every change audited, with a reason."""

import importlib

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from governance_site import schedules
from governance_site.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

TASKS = "/admin/django_celery_beat/periodictask/"
INTERVALS = "/admin/django_celery_beat/intervalschedule/"
TRIPWIRE = importlib.import_module("regression.migrations.0003_evaluate_schedule").TASK_NAME


@pytest.fixture
def tripwire_task():
    return PeriodicTask.objects.get(name=TRIPWIRE)


def test_disable_action__asks_for_a_reason_then_disables_and_audits(client, operator, tripwire_task):
    client.force_login(operator)
    asked = client.post(TASKS, {"action": "disable_tasks", ACTION_CHECKBOX_NAME: [tripwire_task.pk]})
    assert asked.status_code == 200 and b"reason" in asked.content
    assert PeriodicTask.objects.get(pk=tripwire_task.pk).enabled and not AuditEvent.objects.exists()
    client.post(
        TASKS,
        {"action": "disable_tasks", ACTION_CHECKBOX_NAME: [tripwire_task.pk], "confirm": "yes", "reason": "noisy"},
    )
    assert not PeriodicTask.objects.get(pk=tripwire_task.pk).enabled
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_repr.startswith(TRIPWIRE), event.reason) == (
        "op", "schedule.disable", True, "noisy"
    )  # fmt: skip
    assert (event.before["enabled"], event.after["enabled"]) == (True, False)


def test_enable_action__audited(client, operator, tripwire_task):
    tripwire_task.enabled = False
    tripwire_task.save()
    client.force_login(operator)
    client.post(
        TASKS, {"action": "enable_tasks", ACTION_CHECKBOX_NAME: [tripwire_task.pk], "confirm": "yes", "reason": "ok"}
    )
    assert PeriodicTask.objects.get(pk=tripwire_task.pk).enabled
    assert AuditEvent.objects.get().action == "schedule.enable"


def change_form(task: PeriodicTask, **changes) -> dict:
    """The change form as rendered for `task` now (with the hidden copy of what it showed, which
    tells the admin what the operator changed), then `changes` made by the operator."""
    shown = {
        "name": task.name, "regtask": task.task, "task": task.task, "description": task.description,
        "interval": task.interval_id, "start_time_0": "", "start_time_1": "", "args": "[]", "kwargs": "{}",
        "expire_seconds": "", "queue": "", "exchange": "", "routing_key": "", "priority": "", "headers": "{}",
    }  # fmt: skip
    seen = {f"initial-{name}": value for name, value in shown.items()}
    seen["initial-enabled"] = str(task.enabled)
    return {**shown, **seen, **({"enabled": "on"} if task.enabled else {}), **changes}


def test_change_form__without_reason__refused_and_unchanged(client, operator, tripwire_task):
    client.force_login(operator)
    body = change_form(tripwire_task)
    del body["enabled"]
    response = client.post(f"{TASKS}{tripwire_task.pk}/change/", body)
    assert response.status_code == 200  # the form again, with the error
    assert PeriodicTask.objects.get(pk=tripwire_task.pk).enabled and not AuditEvent.objects.exists()


def test_change_form__disable_with_reason__saved_and_audited_before_after(client, operator, tripwire_task):
    client.force_login(operator)
    body = change_form(tripwire_task, reason="maintenance window")
    del body["enabled"]
    response = client.post(f"{TASKS}{tripwire_task.pk}/change/", body)
    assert response.status_code == 302, response.content
    assert not PeriodicTask.objects.get(pk=tripwire_task.pk).enabled
    event = AuditEvent.objects.get()
    assert (event.action, event.reason, event.before["enabled"], event.after["enabled"]) == (
        "schedule.update", "maintenance window", True, False
    )  # fmt: skip


def test_interval_change__with_reason__audited(client, operator, tripwire_task):
    client.force_login(operator)
    interval = tripwire_task.interval
    inline = "periodictask_set"  # the tasks on this interval, shown read-only below it
    tasks = PeriodicTask.objects.filter(interval=interval).order_by("pk")
    body = {
        "every": 500, "period": "minutes", "reason": "quieter beat",
        "initial-every": interval.every, "initial-period": interval.period,
        f"{inline}-TOTAL_FORMS": len(tasks), f"{inline}-INITIAL_FORMS": len(tasks),
        **{f"{inline}-{i}-id": task.pk for i, task in enumerate(tasks)},
        **{f"{inline}-{i}-interval": interval.pk for i in range(len(tasks))},
    }  # fmt: skip
    response = client.post(f"{INTERVALS}{interval.pk}/change/", body)
    assert response.status_code == 302, response.content
    assert IntervalSchedule.objects.get(pk=interval.pk).every == 500
    event = AuditEvent.objects.get()
    assert (event.action, event.before["every"], event.after["every"], event.reason) == (
        "schedule.update", 5, 500, "quieter beat"
    )  # fmt: skip


@pytest.mark.parametrize("path", [TASKS, INTERVALS])
def test_delete__not_offered_in_the_admin(client, operator, tripwire_task, path):
    client.force_login(operator)
    pk = tripwire_task.pk if path == TASKS else tripwire_task.interval_id
    assert client.post(f"{path}{pk}/delete/", {"post": "yes"}).status_code == 403
    assert PeriodicTask.objects.filter(pk=tripwire_task.pk).exists()


@pytest.mark.parametrize("path", [TASKS, INTERVALS])
def test_change_page__renders_with_a_reason_field(client, operator, tripwire_task, path):
    client.force_login(operator)
    pk = tripwire_task.pk if path == TASKS else tripwire_task.interval_id
    response = client.get(f"{path}{pk}/change/")
    assert response.status_code == 200 and b'name="reason"' in response.content
    assert b'name="initial-' in response.content  # what the page showed, posted back with it


def test_service__without_reason__invalid_and_nothing_written(tripwire_task):
    from governance_site.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        schedules.set_task_enabled(task=tripwire_task, enabled=False, actor="tests", reason=" ")
    assert raised.value.field == "reason"
    assert PeriodicTask.objects.get(pk=tripwire_task.pk).enabled and not AuditEvent.objects.exists()


def test_change_form__stale__a_disable_made_meanwhile_is_kept(client, operator, tripwire_task):
    """The operator opened the form while the task ran and changed only its description; meanwhile
    it was disabled: the save writes the description and leaves it disabled."""
    client.force_login(operator)
    body = change_form(tripwire_task, description="evaluates the tripwires", reason="describe it")
    schedules.set_task_enabled(task=tripwire_task, enabled=False, actor="tests/incident", reason="incident")
    response = client.post(f"{TASKS}{tripwire_task.pk}/change/", body)
    assert response.status_code == 302, response.content
    task = PeriodicTask.objects.get(pk=tripwire_task.pk)
    assert (task.enabled, task.description) == (False, "evaluates the tripwires")
    event = AuditEvent.objects.filter(action="schedule.update").get()
    assert (event.before["enabled"], event.after["enabled"], event.after["description"]) == (
        False, False, "evaluates the tripwires"
    )  # fmt: skip


def test_change_form__stale__the_same_field_changed_meanwhile__refused(client, operator, tripwire_task):
    client.force_login(operator)
    body = change_form(tripwire_task, description="mine", reason="describe it")
    PeriodicTask.objects.filter(pk=tripwire_task.pk).update(description="theirs")
    response = client.post(f"{TASKS}{tripwire_task.pk}/change/", body)
    assert response.status_code == 200 and b"since you opened it" in response.content
    assert PeriodicTask.objects.get(pk=tripwire_task.pk).description == "theirs"
    assert not AuditEvent.objects.exists()


def test_add_interval__with_reason__created_and_audited(client, operator):
    client.force_login(operator)
    body = {"every": 7, "period": "minutes", "reason": "a slower cadence", "initial-every": "", "initial-period": ""}
    body.update({"periodictask_set-TOTAL_FORMS": 0, "periodictask_set-INITIAL_FORMS": 0})
    response = client.post(f"{INTERVALS}add/", body)
    assert response.status_code == 302, response.content
    created = IntervalSchedule.objects.get(every=7, period="minutes")
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.before, event.reason) == (
        "schedule.create", str(created.pk), None, "a slower cadence"
    )  # fmt: skip
