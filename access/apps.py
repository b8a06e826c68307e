from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Users and roles"

    def ready(self) -> None:
        from .services import grant_admin_permissions

        post_migrate.connect(grant_admin_permissions, sender=self)
