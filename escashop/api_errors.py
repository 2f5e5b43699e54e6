"""API errors in DRF's shapes, and their description in the OpenAPI schema.

The services raise Django's ``ValidationError`` (with a field dict), ``PermissionDenied`` and
``transactions.exceptions.DomainConflict``; the handler answers them as DRF would its own:
400 ``{"field": ["message"]}``, 403 ``{"detail": ...}`` and 409 ``{"detail": ...}``; a body
over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is 413 ``{"detail": ...}``. A database
``IntegrityError`` that no service turned into one of those (a row the change refers to
removed by a concurrent request, such as the recording user's account) is 409, logged:
nothing was saved, and a retry sees the new state.
``AutoSchema`` documents those answers on every operation they can come from.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from transactions.exceptions import DomainConflict

from .db_health import database_lost

logger = logging.getLogger(__name__)


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The database connection was lost; try again. (A payment retried with the same "
        "Idempotency-Key is never recorded twice.)"
    )
    default_code = "database_unavailable"


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's handler, taught the domain's exceptions (Django's PermissionDenied and Http404 it
    already maps to 403 and 404, keeping the message)."""
    if isinstance(exc, DjangoValidationError):
        detail = as_serializer_error(exc)  # DRF's shape: {"field": ["message", ...]}
        if NON_FIELD_ERRORS in detail:  # model-level errors from full_clean()
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DomainConflict):
        exc = Conflict(exc.message)
    elif isinstance(exc, RequestDataTooBig):
        # DRF reads a JSON body through request.body, which raises this past
        # DATA_UPLOAD_MAX_MEMORY_SIZE; left to Django it was an HTML 400.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = BodyTooLarge(f"The request body is larger than {limit} bytes.")
    elif isinstance(exc, IntegrityError):
        logger.warning("a write conflicted with a concurrent one (409)", exc_info=exc)
        exc = Conflict(
            "This change conflicts with another made at the same moment (something it refers "
            "to was changed or removed); nothing was saved. Reload and try again."
        )
    elif database_lost(exc):
        # PostgreSQL restarted or is down: not a bug of this request (escashop/db_health.py).
        response = drf_exception_handler(DatabaseUnavailable(), context)
        response["Retry-After"] = "1"
        return response
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        # simplejwt adds which token classes it tried and why each refused: {"detail"} and
        # its "code" (token_not_valid, password_changed...) say all a client acts on.
        response.data.pop("messages", None)
    return response


ERROR_DETAIL_SCHEMA = {
    "type": "object",
    "description": "An error that concerns the whole request.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": (
        "Validation errors: each key names a request field (``non_field_errors`` for the "
        "request as a whole), each value lists messages."
    ),
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"amount": ["Amount exceeds the remaining balance of 500.00."]},
}

ERROR_DESCRIPTIONS = {
    "400": (
        'Invalid input, as `{"field": ["message"]}` naming each offending field '
        '(or `{"detail": ...}` when the body is not JSON).'
    ),
    "401": (
        "No valid access token: missing, malformed or expired, a refresh token used as a "
        "bearer token, or the user is inactive."
    ),
    "403": (
        "The account has no role, or its roles do not allow this action "
        "(e.g. only admins void payments)."
    ),
    "404": "No such object, or not visible to this user (or a page past the last).",
    "413": "The request body is larger than the server accepts (2.5 MB by default).",
    "415": "The body is not JSON (`Content-Type` other than `application/json`).",
    "429": "Too many attempts; retry after the number of seconds in `Retry-After`.",
    "503": (
        "The database connection was lost (PostgreSQL restarting): retry after `Retry-After` "
        "seconds; a payment retried with the same `Idempotency-Key` is never recorded twice."
    ),
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema plus the error responses each operation can give.

    Generic ones are derived from the view (authentication, body, path parameters, lists,
    throttles); a view adds its own with ``error_responses = {action_or_method: {code: text}}``
    (e.g. 409 for deleting a transaction that has settlements).
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self._error_codes().items():
            responses.setdefault(code, self._error_response(code, description))
        return responses

    def _error_codes(self) -> dict[str, str]:
        codes: dict[str, str] = {}
        body = self.method in ("POST", "PUT", "PATCH")
        queried = self.method == "GET" and (
            self._is_list_view() or bool(getattr(self.view, "filterset_class", None))
        )
        if body or queried:
            codes["400"] = ERROR_DESCRIPTIONS["400"]
        if body:
            codes["413"] = ERROR_DESCRIPTIONS["413"]
            codes["415"] = ERROR_DESCRIPTIONS["415"]
        permissions = self.view.get_permissions()
        if not all(isinstance(p, AllowAny) for p in permissions):
            codes["401"] = ERROR_DESCRIPTIONS["401"]
        # Signed in is all some views ask (GET /api/auth/me/ answers users without a role).
        if any(type(p) not in (AllowAny, IsAuthenticated) for p in permissions):
            codes["403"] = ERROR_DESCRIPTIONS["403"]
        if "{" in self.path or (queried and self._is_list_view()):
            codes["404"] = ERROR_DESCRIPTIONS["404"]
        if self.view.get_throttles():
            codes["429"] = ERROR_DESCRIPTIONS["429"]
        codes["503"] = ERROR_DESCRIPTIONS["503"]  # every operation reads the database
        declared = getattr(self.view, "error_responses", {})
        key = getattr(self.view, "action", None) or self.method.lower()
        codes.update({str(code): text for code, text in declared.get(key, {}).items()})
        return dict(sorted(codes.items()))

    def _error_response(self, code: str, description: str) -> dict:
        detail = self._component("ErrorDetail", ERROR_DETAIL_SCHEMA)
        if code == "400":
            schema = {"oneOf": [self._component("FieldErrors", FIELD_ERRORS_SCHEMA), detail]}
        else:
            schema = detail
        response = {"description": description, "content": {"application/json": {"schema": schema}}}
        if code in ("429", "503"):
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds until another attempt is allowed.",
                    "schema": {"type": "integer"},
                }
            }
        return response

    def _component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component.ref
