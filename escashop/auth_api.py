"""Authentication endpoints: JWT token pair, refresh, and who-am-I; login throttling.

Logins are throttled two ways (rates in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]):
failed attempts per username, so one account's password cannot be guessed, and all attempts
per client address, so one client cannot sweep many usernames. Counts live in the default
cache (Redis when REDIS_URL is set), so every daphne process shares them. The Django
admin's login page (``admin_login``) is held to the same limits with the same counts.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Mapping

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from transactions.choices import Role
from transactions.selectors import user_roles
from transactions.serializers import display_name


class _LoginThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # Read at call time (DRF binds THROTTLE_RATES at import), so settings overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class LoginAddressThrottle(_LoginThrottle):
    """Every login attempt from one client address (X-Forwarded-For per NUM_PROXIES)."""

    scope = "login_address"

    def get_cache_key(self, request: Request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginFailureThrottle(_LoginThrottle):
    """Failed login attempts for one username. Checking does not count an attempt; the view
    calls ``record_failure`` after a wrong password, and a success clears the count."""

    scope = "login_username"

    def get_cache_key(self, request: Request | HttpRequest, view) -> str | None:
        # The API's JSON body, or the admin login's form.
        data = request.data if isinstance(request, Request) else request.POST
        username = data.get("username") if isinstance(data, Mapping) else None
        # Counted for the account the login would reach, read as the serializer's CharField
        # reads it: a JSON number 1001 logs in as "1001", and the username is trimmed, so
        # " carla" and "carla " are carla's attempts. NFKC as Django's login form reads it:
        # on the admin's login page a full-width "a" (U+FF41) in "ada" still signs in as "ada".
        if isinstance(username, int | float) and not isinstance(username, bool):
            username = str(username)
        username = (
            unicodedata.normalize("NFKC", username).strip() if isinstance(username, str) else None
        )
        if not username:
            return None  # the serializer refuses the request anyway
        # Hashed: any string may arrive here, and cache keys must stay short and plain.
        ident = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        self.history = self._recent(self.cache.get(self.key, []))
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return True

    def record_failure(self, request: Request, view) -> None:
        key = self.get_cache_key(request, view)
        if key is None or self.rate is None:
            return
        self.now = self.timer()
        # Read-modify-write, like DRF's own throttles: two failures landing at the same
        # instant may count once. The limit is far from what guessing a password needs.
        history = [self.now, *self._recent(self.cache.get(key, []))]
        self.cache.set(key, history, self.duration)

    def clear(self, request: Request, view) -> None:
        key = self.get_cache_key(request, view)
        if key is not None:
            self.cache.delete(key)

    def _recent(self, history: list[float]) -> list[float]:
        return [moment for moment in history if moment > self.now - self.duration]


LOGIN_ERRORS = {"post": {401: "Wrong username or password, or the account is inactive."}}


class LoginView(TokenObtainPairView):
    """Exchange a username and password for an access token (send it as
    ``Authorization: Bearer <access>``) and a refresh token. Throttled: 10 failed attempts a
    minute for one username, 100 attempts a minute from one address (429, ``Retry-After``)."""

    throttle_classes = [LoginAddressThrottle, LoginFailureThrottle]
    error_responses = LOGIN_ERRORS

    def post(self, request: Request, *args, **kwargs) -> Response:
        failures = LoginFailureThrottle()
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            failures.record_failure(request, self)
            raise
        failures.clear(request, self)
        return response


@sensitive_post_parameters()
@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """The Django admin's login page under the API login's throttles, with the same counts
    (SPEC 4): a password guessed on one is not guessed afresh on the other. A failed
    attempt re-renders the form (200), a success redirects."""
    if request.method != "POST":
        return admin.site.login(request)
    for throttle in (LoginAddressThrottle(), LoginFailureThrottle()):
        if not throttle.allow_request(request, None):
            wait = max(1, math.ceil(throttle.wait() or 1))
            response = HttpResponse(
                f"Too many login attempts. Try again in {wait} seconds.",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(wait)
            return response
    response = admin.site.login(request)
    failures = LoginFailureThrottle()
    if response.status_code in (301, 302, 303):
        failures.clear(request, None)
    else:
        failures.record_failure(request, None)
    return response


class RefreshView(TokenRefreshView):
    """Exchange a refresh token for a new access token. A refresh token is never accepted as
    a bearer token."""

    error_responses = {
        "post": {401: "The refresh token is invalid, expired, or its user inactive or deleted."}
    }

    def post(self, request: Request, *args, **kwargs) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except get_user_model().DoesNotExist:
            # simplejwt looks the token's user up without catching this (a 500).
            raise AuthenticationFailed(
                "No active account found for the given token.", "no_active_account"
            ) from None


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField(help_text="Full name, or the username when empty.")
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))


class MeView(APIView):
    """The signed-in user and their roles; open to users without a role, so a client can
    tell "no role" apart from "bad token"."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer, operation_id="auth_me")
    def get(self, request: Request) -> Response:
        user = request.user
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "display_name": display_name(user),
            "roles": sorted(role.value for role in user_roles(user)),
        }
        return Response(MeSerializer(data).data)
