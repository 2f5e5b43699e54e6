"""Websocket authentication: validate an access token and describe who it belongs to.

Used by the JWT middleware (header or ``?token=``) and by the consumer (``authenticate``
frames). The rules are REST's: simplejwt's ``AccessToken`` checks signature, expiry and
type (a refresh token is refused), and ``JWTAuthentication.get_user`` refuses inactive users.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from escashop.api_authentication import PASSWORD_CLAIM, JWTAuthentication
from transactions.choices import Role
from transactions.selectors import user_roles
from transactions.serializers import display_name

#: Longest token string accepted (real access tokens are a few hundred characters).
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """The outcome of checking one access token: a user and expiry, or why it was refused."""

    user: AbstractBaseUser | None
    roles: frozenset[Role]
    expires_at: dt.datetime | None
    error: str | None = None
    #: Not checked at all: the server failed (a database error), not the token.
    fault: bool = False
    #: The token's password claim (None without one): a password change ends the
    #: connection as it ends the token (``realtime.delivery.ConnectionDelivery.access_from``).
    password_claim: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def refused(reason: str) -> TokenAuth:
    return TokenAuth(user=None, roles=frozenset(), expires_at=None, error=reason)


#: The outcome when the token could not be checked (the consumer closes 1011, not 4401).
UNCHECKED = TokenAuth(
    user=None, roles=frozenset(), expires_at=None, error="could not check the token", fault=True
)


def token_authenticate(raw: object) -> TokenAuth:
    """Check an access token (sync: it reads the user and their roles)."""
    # A JWT is ASCII; PyJWT raises UnicodeEncodeError on a lone surrogate such as "\ud800".
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.isascii():
        return refused("missing or malformed token")
    try:
        token = AccessToken(raw)
        user = JWTAuthentication().get_user(token)
    except (TokenError, InvalidToken, AuthenticationFailed) as exc:
        return refused(str(getattr(exc, "detail", exc)))
    if not user.is_active:
        return refused("user is inactive")
    expires_at = dt.datetime.fromtimestamp(int(token["exp"]), tz=dt.UTC)
    return TokenAuth(
        user=user,
        roles=user_roles(user),
        expires_at=expires_at,
        password_claim=token.payload.get(PASSWORD_CLAIM),
    )


def user_summary(user: AbstractBaseUser, roles: frozenset[Role]) -> dict:
    """The ``user`` object of the ``authenticated`` frame (the same facts as /api/auth/me/)."""
    return {
        "id": user.pk,
        "username": user.get_username(),
        "display_name": display_name(user),
        "roles": sorted(str(role) for role in roles),
    }
