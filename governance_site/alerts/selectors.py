"""Reads other apps need: what is still unacknowledged."""

from django.db import models
from django.db.models import Case, When

from .models import Alert


def unacknowledged():
    return Alert.objects.filter(requires_ack=True, acknowledged_at__isnull=True)


def unacknowledged_for(instance: models.Model):
    """The unacknowledged alerts about one object (a tripwire's state, the production state)."""
    return unacknowledged().filter(object_type=instance._meta.label_lower, object_id=str(instance.pk))


def unacknowledged_by_object(model: type[models.Model]) -> dict[str, Alert]:
    """{object_id: its oldest unacknowledged alert} for every object of `model` that has one."""
    alerts = unacknowledged().filter(object_type=model._meta.label_lower).order_by("-created_at", "-id")
    return {alert.object_id: alert for alert in alerts}


def unacknowledged_first():
    """Every alert: those awaiting acknowledgement first, each group newest first."""
    awaiting = Case(When(requires_ack=True, acknowledged_at__isnull=True, then=0), default=1)
    return Alert.objects.order_by(awaiting, "-created_at", "-id")
