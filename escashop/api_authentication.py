"""Bearer-token authentication for the API and the websockets: simplejwt's, with the user
read together with their roles.

simplejwt loads the user (``user_model.objects.get``) and the view then asks for the roles
(``user_roles``: the user's groups): two queries on every request. Here simplejwt's
``get_user`` reads the user through ``user_with_roles``, one query for both; every check
is still simplejwt's own (user id claim, unknown user, inactive user), plus one of ours:
a token the login made before its user's password changed is refused (``password_changed``).

A token's signature and claims are verified once per process: the verified token is kept
by its exact text, and a later request with it only has its expiry checked again (PyJWT's
decoding took about 0.3 ms of a light-load request, ``docs/performance.md``). The user is
still read on every request, so deactivating a user or changing their roles applies at once.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

from transactions.selectors import user_with_roles


class _UsersWithRoles:
    """Stands in for the user model in simplejwt's ``get_user``, which calls
    ``user_model.objects.get(**{USER_ID_FIELD: user_id})`` and catches ``DoesNotExist``."""

    def __init__(self) -> None:
        self.DoesNotExist = get_user_model().DoesNotExist
        self.objects = self

    def get(self, **lookup):
        ((field, value),) = lookup.items()
        return user_with_roles(field=field, value=value)


#: The claim in which the login records a hash of the user's password hash (simplejwt's
#: name for it); access tokens made from a refresh token copy it.
PASSWORD_CLAIM = "hash_password"


def password_claim(user) -> str:
    return get_md5_hash_password(user.password)


def password_changed(token: Token, user) -> bool:
    """Whether ``token`` was made by the login before ``user``'s password last changed.

    A token without the claim was not made by the login but by whoever holds the signing key
    (an operator's script, with simplejwt's default claims): it is not checked. simplejwt's
    ``CHECK_REVOKE_TOKEN`` refuses those, and checks access tokens only."""
    made_under = token.payload.get(PASSWORD_CLAIM)
    return made_under is not None and made_under != password_claim(user)


def password_changed_error() -> AuthenticationFailed:
    return AuthenticationFailed("The user's password has been changed.", code="password_changed")


#: Verified tokens by their text (see the module docstring); emptied when this many.
VERIFIED_TOKENS_MAX = 4096
_verified: dict[bytes, Token] = {}


class JWTAuthentication(authentication.JWTAuthentication):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user_model = _UsersWithRoles()

    def get_validated_token(self, raw_token: bytes) -> Token:
        key = bytes(raw_token)
        token = _verified.get(key)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
            except TokenError:
                _verified.pop(key, None)  # expired: simplejwt's own check refuses it below
            else:
                return token
        token = super().get_validated_token(raw_token)
        if len(_verified) >= VERIFIED_TOKENS_MAX:
            _verified.clear()
        _verified[key] = token
        return token

    def get_user(self, validated_token: Token):
        user = super().get_user(validated_token)
        if password_changed(validated_token, user):
            raise password_changed_error()
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme: simplejwt's (``jwtAuth``), for this subclass too."""

    target_class = "escashop.api_authentication.JWTAuthentication"
