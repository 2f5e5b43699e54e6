"""Real-time vocabulary: topics, frame types, event kinds and websocket close codes."""

from __future__ import annotations

from enum import IntEnum

from django.db import models


class Topic(models.TextChoices):
    """A stream a websocket client subscribes to.

    - ``payment_status``: ``payment_status_updated`` frames, one per change of a transaction's
      paid amount, status or amount.
    - ``transactions``: ``transaction_updated`` frames for every transaction change
      (created, settled, voided, corrected, reassigned, deleted).
    """

    PAYMENT_STATUS = "payment_status", "Payment status"
    TRANSACTIONS = "transactions", "Transactions"


class FrameType(models.TextChoices):
    """The ``type`` of an event frame sent to clients; each belongs to one topic."""

    PAYMENT_STATUS_UPDATED = "payment_status_updated", "Payment status updated"
    TRANSACTION_UPDATED = "transaction_updated", "Transaction updated"


FRAME_TOPIC = {
    FrameType.PAYMENT_STATUS_UPDATED: Topic.PAYMENT_STATUS,
    FrameType.TRANSACTION_UPDATED: Topic.TRANSACTIONS,
}


class ChangeKind(models.TextChoices):
    """``data.type`` of a ``transaction_updated`` frame: what happened to the transaction.

    - ``transaction_created``: a sale was recorded.
    - ``payment_settlement_created``: a settlement was recorded against it.
    - ``payment_status_updated``: its paid amount, status or amount changed without a new
      settlement (a settlement voided, an amount corrected).
    - ``transaction_updated``: other fields changed (e.g. a cashier was assigned).
    - ``transaction_deleted``: an admin deleted it (it had no settlements).
    """

    TRANSACTION_CREATED = "transaction_created"
    PAYMENT_SETTLEMENT_CREATED = "payment_settlement_created"
    PAYMENT_STATUS_UPDATED = "payment_status_updated"
    TRANSACTION_UPDATED = "transaction_updated"
    TRANSACTION_DELETED = "transaction_deleted"


class CloseCode(IntEnum):
    """Websocket close codes (the handshake is accepted first so browsers can read them)."""

    #: Missing, invalid or expired access token, or inactive user.
    UNAUTHENTICATED = 4401
    #: Authenticated, but no role that may use the websocket.
    FORBIDDEN = 4403
    #: No authentication within the grace period after connecting.
    AUTH_TIMEOUT = 4408
    #: More frames than the rate limit allows.
    RATE_LIMITED = 4429
    #: Protocol abuse: non-JSON, oversized frames, repeated errors.
    PROTOCOL_ERROR = 4400
    #: An event could not be sent (a server fault): reconnect and resume with ``since``.
    INTERNAL_ERROR = 1011
