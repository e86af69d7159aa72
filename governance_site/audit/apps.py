from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "governance_site.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .roles_sync import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="audit.sync_role_permissions")
