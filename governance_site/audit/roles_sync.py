"""Keeps each role's admin permissions in step with the models after every migrate.

The groups are created by a data migration (0002_roles) and recreated here when missing (a test
database flush empties them). Which model permissions each
role holds follows one rule, applied to every governance app: viewers may view everything,
operators may also add and change (the admin still refuses add/change on append-only records),
engines work through the API only and hold no admin permissions. Operators may also edit the
Celery beat schedules.
"""

from django.apps import apps as global_apps

from governance_site import roles

GOVERNANCE_APPS = ("audit", "alerts", "approvals", "golive", "risk", "heimdall", "regression", "review")
OPERATOR_EXTRA_APPS = ("django_celery_beat",)


def sync_role_permissions(sender=None, apps=global_apps, using="default", **kwargs):
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:
        return
    permissions = Permission.objects.using(using).select_related("content_type")
    viewer = permissions.filter(content_type__app_label__in=GOVERNANCE_APPS, codename__startswith="view_")
    operator = permissions.filter(
        content_type__app_label__in=GOVERNANCE_APPS, codename__regex=r"^(view|add|change)_"
    ) | permissions.filter(content_type__app_label__in=OPERATOR_EXTRA_APPS)
    for name, granted in ((roles.VIEWER, viewer), (roles.OPERATOR, operator), (roles.ENGINE, [])):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(granted)
