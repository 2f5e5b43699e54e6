"""REST endpoints for customers and transactions. Reads go through the selectors (what the
caller may see; anything else is 404), writes through the services (which decide what the
caller may do; PermissionDenied is 403). No business rule lives here."""

from __future__ import annotations

from contextlib import contextmanager

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from escashop.api_permissions import CustomerWriter, HasAnyRole

from .filters import CustomerFilter, TransactionFilter
from .models import Transaction
from .selectors import customers_visible_to, transactions_visible_to
from .serializers import (
    CustomerSerializer,
    TransactionCreateSerializer,
    TransactionSerializer,
    TransactionUpdateSerializer,
)
from .services import (
    customer_create,
    customer_update,
    transaction_change_check,
    transaction_create,
    transaction_create_check,
    transaction_delete,
    transaction_update,
)


class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Customers: any role looks them up (``?q=`` searches), sales and admins write them."""

    lookup_value_converter = "id"  # escashop/api_ids.py: ASCII digits, no leading zero

    serializer_class = CustomerSerializer
    permission_classes = [IsAuthenticated, HasAnyRole, CustomerWriter]
    filterset_class = CustomerFilter

    def get_queryset(self):
        return customers_visible_to(self.request.user)

    def perform_create(self, serializer: CustomerSerializer) -> None:
        serializer.instance = customer_create(**serializer.validated_data)

    def perform_update(self, serializer: CustomerSerializer) -> None:
        serializer.instance = customer_update(
            customer=serializer.instance, **serializer.validated_data
        )


class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Transactions the caller may see (admin: all; sales: their own; cashier: theirs and
    the unassigned queue). Sales and admins create; admins correct and delete."""

    lookup_value_converter = "id"  # escashop/api_ids.py: ASCII digits, no leading zero

    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    error_responses = {
        "destroy": {409: "The transaction has payment settlements and cannot be deleted."}
    }

    def get_queryset(self):
        return transactions_visible_to(self.request.user).select_related(
            "customer", "sales_agent", "cashier"
        )

    def _read(self, txn: Transaction) -> dict:
        return TransactionSerializer(txn, context=self.get_serializer_context()).data

    def _input(self, serializer_class, request: Request):
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=TransactionCreateSerializer, responses={201: TransactionSerializer})
    def create(self, request: Request) -> Response:
        transaction_create_check(request.user)  # 403 before the body is read
        data = self._input(TransactionCreateSerializer, request)
        txn = transaction_create(created_by=request.user, **data)
        return Response(self._read(txn), status=status.HTTP_201_CREATED)

    @extend_schema(request=TransactionUpdateSerializer, responses=TransactionSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        txn = self.get_object()
        transaction_change_check(request.user)
        data = self._input(TransactionUpdateSerializer, request)
        with _deleted_meanwhile_is_404():
            txn = transaction_update(transaction=txn, updated_by=request.user, **data)
        return Response(self._read(txn))

    def destroy(self, request: Request, pk: str) -> Response:
        with _deleted_meanwhile_is_404():
            transaction_delete(transaction=self.get_object(), deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@contextmanager
def _deleted_meanwhile_is_404():
    """A transaction deleted by another request while this one waited for its row lock
    (``transaction_lock``): 404, as if it had been gone from the start."""
    try:
        yield
    except Transaction.DoesNotExist:
        raise NotFound() from None
