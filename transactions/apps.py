from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Transactions"

    def ready(self) -> None:
        from .roles import role_permissions_sync

        post_migrate.connect(role_permissions_sync, dispatch_uid="transactions.role_permissions")
