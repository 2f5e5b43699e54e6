"""Reads of the payment event log, filtered by the one visibility policy.

The audience of an event is fixed when it is written (realtime.models.PaymentEvent); this
module turns "who is asking" into the matching filter, for the REST polling endpoint and
the websocket replay alike. The in-memory twin for live frames is ``Audience.allows``.
"""

from __future__ import annotations

from django.db.models import Exists, Max, OuterRef, Q, QuerySet

from transactions.choices import Role
from transactions.models import RoleGrant
from transactions.selectors import user_roles

from .choices import Topic
from .models import PaymentEvent, PaymentLogPrune


def payment_events_q(*, user_id: int, roles: frozenset[Role]) -> Q | None:
    """None means every event (admin); an always-false Q for users without a role.

    The queue's events are every cashier's, but only those written once the user was one:
    made a cashier today, a user does not get last week's queue, which they could not see
    then and, for what has been taken since, cannot see now (``RoleGrant``).
    """
    if Role.ADMIN in roles:
        return None
    q = Q(pk__in=[])
    if Role.SALES in roles:
        q |= Q(sales_agent_id=user_id) | Q(previous_sales_agent_id=user_id)
    if Role.CASHIER in roles:
        later_grant = RoleGrant.objects.filter(
            user_id=user_id, role=Role.CASHIER, granted_at__gt=OuterRef("created_at")
        )
        q |= Q(cashier_pool=True) & ~Exists(later_grant)
        q |= Q(cashier_id=user_id) | Q(previous_cashier_id=user_id)
    return q


def payment_events_visible_to(
    user, *, after: int = 0, topic: Topic | str | None = None, roles: frozenset[Role] | None = None
) -> QuerySet[PaymentEvent]:
    """Events this user may see with ``id > after``, oldest first."""
    roles = user_roles(user) if roles is None else roles
    if not roles:
        return PaymentEvent.objects.none()
    qs = PaymentEvent.objects.filter(id__gt=after)
    if topic is not None:
        qs = qs.filter(topic=topic)
    q = payment_events_q(user_id=user.pk, roles=roles)
    return (qs if q is None else qs.filter(q)).order_by("id")


def payment_event_last_id() -> int:
    """The newest event id (0 when the log is empty)."""
    return PaymentEvent.objects.aggregate(last=Max("id"))["last"] or 0


def payment_event_oldest_id() -> int | None:
    """The oldest retained event id; a ``since`` below it minus one needs a resync."""
    return PaymentEvent.objects.order_by("id").values_list("id", flat=True).first()


def payment_events_after(*, after: int, limit: int) -> list[PaymentEvent]:
    """Log rows above ``after``, oldest first, at most ``limit``: a process's catch-up and
    gap reads (``realtime.relay.LiveRelay.catch_up``)."""
    return list(PaymentEvent.objects.filter(id__gt=after).order_by("id")[:limit])


def payment_events_replay(
    user, *, roles: frozenset[Role], topic: str, after: int, limit: int
) -> list[PaymentEvent]:
    """One page of a ``since`` replay: visible events of a topic above ``after``."""
    return list(payment_events_visible_to(user, after=after, topic=topic, roles=roles)[:limit])


def payment_log_pruned_through() -> int:
    """The highest event id ever pruned (0 if never): a ``since`` below it needs a resync."""
    return PaymentLogPrune.objects.aggregate(last=Max("pruned_through"))["last"] or 0


def payment_log_covers(since: int) -> bool:
    """Whether every event with ``id > since`` is still in the log (else: resync)."""
    return since >= payment_log_pruned_through()


def payment_log_newest(*, pruned_through: int | None = None) -> int:
    """The newest event id the log ever held (pruned ones included; 0 if none); pass the
    pruning point when it was just read."""
    if pruned_through is None:
        pruned_through = payment_log_pruned_through()
    return max(payment_event_last_id(), pruned_through)
