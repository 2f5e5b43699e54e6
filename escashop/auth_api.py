"""Authentication endpoints: JWT token pair, refresh, and who-am-I; login throttling.

Logins are throttled two ways (rates in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]):
failed attempts per username, so one account's password cannot be guessed, and all attempts
per client address, so one client cannot sweep many usernames. Counts live in the default
cache (Redis when REDIS_URL is set), so every daphne process shares them; while it is out
of reach, in each process's memory (``_ThrottleCounts``). The Django admin's login page
(``admin_login``) is held to the same limits with the same counts.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import unicodedata
from collections.abc import Mapping

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache as default_cache
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.contrib.rest_framework_simplejwt import (
    TokenObtainPairSerializerExtension,
    TokenRefreshSerializerExtension,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
)

from escashop.api_authentication import (
    PASSWORD_CLAIM,
    password_changed,
    password_changed_error,
    password_claim,
)
from transactions.choices import Role
from transactions.selectors import user_roles
from transactions.serializers import display_name

logger = logging.getLogger(__name__)


class _ThrottleCounts:
    """Where login attempts are counted: the default cache (Redis when REDIS_URL is set,
    shared by every process) and, while it cannot be reached, this process's own memory.

    Redis speeds delivery up and shares these counts; it holds nothing a login needs. With
    it down a login is still held to the limits, per process instead of per deployment
    (each process counts apart until Redis is back), rather than refused with a 500."""

    #: Seconds between two log lines about the shared cache being out of reach.
    WARN_EVERY = 60.0
    #: Seconds the shared cache is left alone after it failed: a Redis that hangs costs a
    #: login one socket timeout (1 s) then, not one per cache call (four or five a login).
    RETRY_AFTER = 5.0

    def __init__(self) -> None:
        # Room for every slot of a busy attack: the default 300 entries would let one
        # address's hundred slots push a username's failures out.
        self.local = LocMemCache("escashop-login-throttle", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
        self._warned_at = -math.inf
        self._failed_at = -math.inf

    def _call(self, method: str, *args):
        now = time.monotonic()
        if now - self._failed_at >= self.RETRY_AFTER:
            try:
                return getattr(default_cache, method)(*args)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                now = self._failed_at = time.monotonic()
                if now - self._warned_at >= self.WARN_EVERY:
                    self._warned_at = now
                    logger.warning(
                        "login throttling: the shared cache is out of reach (%s); counting "
                        "attempts in this process until it is back",
                        type(exc).__name__,
                    )
        return getattr(self.local, method)(*args)

    def get_many(self, keys):
        return self._call("get_many", keys)

    def add(self, key, value, timeout):
        return self._call("add", key, value, timeout)

    def delete(self, key):
        return self._call("delete", key)

    def delete_many(self, keys):
        return self._call("delete_many", keys)


class _LoginThrottle(SimpleRateThrottle):
    """A sliding-window limit of ``num_requests`` attempts in ``duration`` seconds, kept as
    that many slots in the cache: an attempt takes a free slot with ``cache.add`` (atomic, in
    Redis and in the local-memory cache) for ``duration`` seconds; with every slot taken the
    next attempt is refused. DRF's own throttles read a list of times and write it back, so
    attempts in flight at the same moment all pass one reading and the limit is overshot by
    as many as run at once; a slot is never handed out twice."""

    cache = _ThrottleCounts()
    #: The slot this instance took (``take``), if any.
    slot: str | None = None

    def get_rate(self) -> str | None:
        # Read at call time (DRF binds THROTTLE_RATES at import), so settings overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def _slot_keys(self) -> list[str]:
        return [f"{self.key}:{i}" for i in range(self.num_requests)]

    def _taken(self) -> dict[str, float]:
        """The slots in use (slot key -> the time of its attempt); sets what ``wait`` reads."""
        self.now = self.timer()
        taken = self.cache.get_many(self._slot_keys())
        self.history = sorted(taken.values(), reverse=True)
        return taken

    def _applies(self, request: Request | HttpRequest, view) -> bool:
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request, view)
        return self.key is not None

    def take(self, request: Request | HttpRequest, view) -> bool:
        """Count this attempt: True with a slot taken (or no limit for it), False when every
        slot is in use."""
        if not self._applies(request, view):
            return True
        taken = self._taken()
        for slot in self._slot_keys():
            if slot not in taken and self.cache.add(slot, self.now, self.duration):
                self.slot = slot
                return True
        self._taken()  # others took the free ones first: the slots as they are now
        return False

    def allow_request(self, request: Request, view) -> bool:
        return self.take(request, view)

    def give_back(self) -> None:
        """Free the slot ``take`` took: the attempt is not to count."""
        if self.slot is not None:
            self.cache.delete(self.slot)
            self.slot = None

    def wait(self) -> float:
        # When the oldest attempt leaves the window; never 0, which would invite a retry at
        # once (a slot's expiry in the cache is whole seconds).
        return max(1.0, super().wait() or 0.0)


class LoginAddressThrottle(_LoginThrottle):
    """Every login attempt from one client address (X-Forwarded-For per NUM_PROXIES)."""

    scope = "login_address"

    def get_cache_key(self, request: Request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginFailureThrottle(_LoginThrottle):
    """Failed login attempts for one username. The login views take a slot themselves
    (``take``), not through DRF's ``throttle_classes``, since they must hold on to it: a
    wrong password keeps it, a request that never reached the password check gives it back,
    and a success frees it along with every other (``clear``). Taking it before the check is
    what bounds guesses sent side by side."""

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

    def clear(self, request: Request | HttpRequest, view) -> None:
        if self._applies(request, view):
            self.cache.delete_many(self._slot_keys())


LOGIN_ERRORS = {"post": {401: "Wrong username or password, or the account is inactive."}}


@extend_schema_serializer(component_name="TokenObtainPair")  # simplejwt's name, as before
class LoginSerializer(TokenObtainPairSerializer):
    """simplejwt's, with the user's password recorded in the tokens (a hash of its hash), so
    that a password change ends them (``escashop.api_authentication.password_changed``)."""

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token[PASSWORD_CLAIM] = password_claim(user)
        return token


class LoginView(TokenObtainPairView):
    """Exchange a username and password for an access token (send it as
    ``Authorization: Bearer <access>``) and a refresh token. Throttled: 10 failed attempts a
    minute for one username, 100 attempts a minute from one address (429, ``Retry-After``)."""

    serializer_class = LoginSerializer
    throttle_classes = [LoginAddressThrottle]  # and LoginFailureThrottle, taken in post()
    error_responses = LOGIN_ERRORS

    def post(self, request: Request, *args, **kwargs) -> Response:
        failures = LoginFailureThrottle()
        if not failures.take(request, self):
            raise Throttled(wait=failures.wait())
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            raise  # a wrong password (or an inactive account) keeps its slot
        except BaseException:
            failures.give_back()  # refused before the password was checked (400, say)
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
    failures = LoginFailureThrottle()
    for throttle in (LoginAddressThrottle(), failures):
        if not throttle.take(request, None):
            return _too_many_logins(throttle.wait())
    try:
        response = admin.site.login(request)
    except BaseException:
        failures.give_back()
        raise
    if response.status_code in (301, 302, 303):
        failures.clear(request, None)
    # A failed attempt (the form again) keeps its slot.
    return response


def _too_many_logins(wait: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    response = HttpResponse(
        f"Too many login attempts. Try again in {seconds} seconds.",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response


@extend_schema_serializer(component_name="TokenRefresh")  # simplejwt's name, as before
class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's, also refusing a refresh token the login made before its user's password
    changed (else it would hand out access tokens that are refused at once)."""

    def validate(self, attrs):
        token = self.token_class(attrs["refresh"])  # a TokenError is the view's 401
        user_id = token.payload.get(jwt_settings.USER_ID_CLAIM)
        found = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id})
        user = found.only("password").first()
        if user is not None and password_changed(token, user):
            raise password_changed_error()
        return super().validate(attrs)


class RefreshView(TokenRefreshView):
    """Exchange a refresh token for a new access token. A refresh token is never accepted as
    a bearer token."""

    serializer_class = RefreshSerializer
    error_responses = {
        "post": {
            401: (
                "The refresh token is invalid, expired or logged out, its user inactive or "
                "deleted, or the user's password changed since it was made."
            )
        }
    }

    def post(self, request: Request, *args, **kwargs) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except get_user_model().DoesNotExist:
            # simplejwt looks the token's user up without catching this (a 500).
            raise AuthenticationFailed(
                "No active account found for the given token.", "no_active_account"
            ) from None


class LoginSchema(TokenObtainPairSerializerExtension):
    """The OpenAPI shapes of the login: drf-spectacular's for simplejwt's serializer."""

    target_class = "escashop.auth_api.LoginSerializer"


class RefreshSchema(TokenRefreshSerializerExtension):
    target_class = "escashop.auth_api.RefreshSerializer"


class LogoutView(TokenBlacklistView):
    """Log out: the refresh token is refused from now on (access tokens made from it run
    out within ``ESCASHOP_ACCESS_TOKEN_MINUTES``). Needs only the refresh token, so a tab
    whose access token has expired can still log out. 200 ``{}``."""

    error_responses = {"post": {401: "The refresh token is invalid, expired or logged out."}}

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="Logged out: `{}`.")}
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)


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
