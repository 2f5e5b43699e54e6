"""REST endpoints for settlements: list and record them under a transaction, read and void
one. A transaction or settlement the caller may not see is 404 (the visible queryset is the
lookup); whether they may record or void is the services' call (403)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from transactions.exceptions import DomainConflict, TransactionHidden
from transactions.models import Transaction
from transactions.selectors import transaction_visible_get, transactions_visible_to

from .models import PaymentSettlement
from .serializers import (
    SettlementCreateSerializer,
    SettlementSerializer,
    SettlementVoidSerializer,
    settlement_representation,
)
from .services import (
    settlement_record,
    settlement_record_check,
    settlement_void,
    settlement_void_check,
)

NOT_FOUND = "No Transaction matches the given query."
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = PaymentSettlement._meta.get_field("idempotency_key").max_length

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    OpenApiParameter.HEADER,
    description=(
        f"Any unique string (e.g. a UUID) of 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable "
        "characters, spaces around it ignored, chosen by the client for this payment. A retry with "
        "the same key by the same user returns the first settlement (same id) instead of "
        "paying twice, even when the two requests race; the same key with a different "
        "amount, mode or transaction is 409."
    ),
)


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    # Printable only: a control character (NUL above all, which PostgreSQL cannot store)
    # is a client's mistake, answered 400 rather than failing the write.
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise ValidationError(
            {IDEMPOTENCY_HEADER: [f"Send 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable characters."]}
        )
    return key


class TransactionSettlementsView(generics.ListCreateAPIView):
    """A transaction's settlements, voided ones included, oldest first. POST records a
    payment (cashiers and admins); the caller is always its cashier, and becomes the
    transaction's cashier if it had none. More than the remaining balance is 400."""

    serializer_class = SettlementSerializer
    error_responses = {
        "post": {409: "The Idempotency-Key was already used for a different payment."}
    }

    def transaction(self) -> Transaction:
        found = transaction_visible_get(
            self.request.user, transaction_id=self.kwargs["transaction_pk"]
        )
        if found is None:
            raise Http404(NOT_FOUND)
        return found

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return PaymentSettlement.objects.none()
        return self.transaction().settlements.all()

    @extend_schema(
        request=SettlementCreateSerializer,
        responses={201: SettlementSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request, transaction_pk: int) -> Response:
        # No lookup first: the service locks the transaction's row and decides there whether
        # the caller may see it (one query less on every payment). A request refused for
        # anything else is 404 all the same when the caller may not see the transaction.
        try:
            settlement_record_check(request.user)  # 403 before the body is read
            key = idempotency_key(request)
            data = SettlementCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            settlement = settlement_record(
                transaction=transaction_pk,
                recorded_by=request.user,
                idempotency_key=key,
                **data.validated_data,
            )
        except (Transaction.DoesNotExist, TransactionHidden):
            raise Http404(NOT_FOUND) from None
        except (APIException, DjangoValidationError, PermissionDenied, DomainConflict):
            self.transaction()  # 404 if the caller may not see it
            raise
        return Response(settlement_representation(settlement), status=status.HTTP_201_CREATED)


class SettlementViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One settlement of a transaction the caller may see."""

    lookup_value_converter = "id"  # escashop/api_ids.py: ASCII digits, no leading zero

    serializer_class = SettlementSerializer

    def get_queryset(self):
        return PaymentSettlement.objects.filter(
            transaction__in=transactions_visible_to(self.request.user)
        )

    @extend_schema(request=SettlementVoidSerializer, responses=SettlementSerializer)
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str) -> Response:
        """Void a payment (admins only): it stays on record and stops counting as paid."""
        settlement = self.get_object()
        settlement_void_check(request.user)  # 403 before the body is read
        data = SettlementVoidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settlement = settlement_void(
            settlement=settlement, voided_by=request.user, reason=data.validated_data["reason"]
        )
        return Response(settlement_representation(settlement))
