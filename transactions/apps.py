from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_migrate, pre_save


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Transactions"

    def ready(self) -> None:
        from .roles import role_grants_fixture_mark, role_grants_record, role_permissions_sync

        post_migrate.connect(role_permissions_sync, dispatch_uid="transactions.role_permissions")
        m2m_changed.connect(
            role_grants_record,
            sender=get_user_model().groups.through,
            dispatch_uid="transactions.role_grants",
        )
        pre_save.connect(
            role_grants_fixture_mark,
            sender=get_user_model(),
            dispatch_uid="transactions.role_grants_fixture",
        )
