"""Domain errors the services raise besides Django's ValidationError and PermissionDenied."""

from __future__ import annotations


class DomainConflict(Exception):
    """The request is valid but conflicts with the current state (the API answers 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
