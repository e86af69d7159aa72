from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "governance_site.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from django.db.models.signals import post_save

        from governance_site.audit.models import AuditEvent

        from .services import alert_for_audit_event

        # Every change of a policy or switch is one AuditEvent written inside the change's
        # transaction (governance_site/audit/services.record): the alert rides on that write, so no
        # lever calls the alerts app and an alert exists exactly when its change committed.
        post_save.connect(alert_for_audit_event, sender=AuditEvent, dispatch_uid="alerts.alert_for_audit_event")
