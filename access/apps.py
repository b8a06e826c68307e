from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Users and roles"

    def ready(self) -> None:
        from .services import grant_admin_permissions

        # Every app's post_migrate: each one's permissions exist only once its own signal has run.
        post_migrate.connect(grant_admin_permissions, dispatch_uid="funnel-admin-permissions")
