"""Domain errors the services raise besides Django's ValidationError and PermissionDenied."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class DomainConflict(Exception):
    """The request is valid but conflicts with the current state (the API answers 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransactionHidden(PermissionDenied):
    """The user may not see this transaction as it stands once locked: a PermissionDenied
    to the services' callers, which the API answers 404, as for any transaction a user may
    not see (SPEC section 3)."""
