"""Thin adapters from model signals to the event chokepoint (realtime.events).

They return early on ``raw`` (fixtures), decide whether a change matters, build the payload
with one builder per frame type and hand the change's events to ``send_events_on_commit``
(one call per change: one query and one INSERT for all of them). No arithmetic here.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from payments.models import PaymentSettlement
from transactions.models import Transaction

from .choices import ChangeKind, FrameType
from .events import EventDraft, Parties, send_events_on_commit
from .payloads import payment_status_data, transaction_updated_data

MONEY_FIELDS = ("amount", "paid_amount", "balance_amount", "payment_status")


@receiver(post_save, sender=PaymentSettlement, dispatch_uid="realtime.settlement_saved")
def settlement_saved(sender, instance: PaymentSettlement, created: bool, raw: bool, **kwargs):
    """A settlement recorded or voided: attach it to its transaction, whose save (in the same
    service call, right after) writes the events describing both."""
    if raw:
        return
    if created or instance.is_voided:
        instance.transaction.change_settlement = instance


@receiver(post_save, sender=Transaction, dispatch_uid="realtime.transaction_saved")
def transaction_saved(sender, instance: Transaction, created: bool, raw: bool, **kwargs):
    if raw:
        return
    moment = timezone.now()
    after = Parties(sales_agent_id=instance.sales_agent_id, cashier_id=instance.cashier_id)
    settlement = instance.change_settlement
    instance.change_settlement = None
    if created:
        kind = ChangeKind.TRANSACTION_CREATED
        send_events_on_commit([_transaction_draft(instance, kind, None, None, after, moment)])
        return
    loaded = instance.loaded_state or {}
    before = Parties(
        sales_agent_id=loaded.get("sales_agent_id", instance.sales_agent_id),
        cashier_id=loaded.get("cashier_id", instance.cashier_id),
    )
    changed = {n for n, v in loaded.items() if getattr(instance, n) != v}
    events = []
    if changed & set(MONEY_FIELDS):
        events.append(
            EventDraft(
                frame_type=FrameType.PAYMENT_STATUS_UPDATED,
                transaction_id=instance.pk,
                data=payment_status_data(
                    txn=instance,
                    previous_status=loaded.get("payment_status", instance.payment_status),
                    settlement=settlement,
                    actor=instance.change_actor,
                    moment=moment,
                ),
                before=before,
                after=after,
            )
        )
        if settlement is not None and settlement.voided_at is None:
            kind = ChangeKind.PAYMENT_SETTLEMENT_CREATED
        else:
            kind = ChangeKind.PAYMENT_STATUS_UPDATED
    elif changed:
        kind = ChangeKind.TRANSACTION_UPDATED
    else:
        return  # nothing a client shows has changed
    events.append(_transaction_draft(instance, kind, settlement, before, after, moment))
    send_events_on_commit(events)


@receiver(post_delete, sender=Transaction, dispatch_uid="realtime.transaction_deleted")
def transaction_deleted(sender, instance: Transaction, **kwargs):
    parties = Parties(sales_agent_id=instance.sales_agent_id, cashier_id=instance.cashier_id)
    kind = ChangeKind.TRANSACTION_DELETED
    send_events_on_commit([_transaction_draft(instance, kind, None, parties, None, timezone.now())])


def _transaction_draft(txn, kind, settlement, before, after, moment) -> EventDraft:
    return EventDraft(
        frame_type=FrameType.TRANSACTION_UPDATED,
        transaction_id=txn.pk,
        data=transaction_updated_data(kind=kind, txn=txn, settlement=settlement, moment=moment),
        before=before,
        after=after,
    )
