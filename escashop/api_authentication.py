"""Bearer-token authentication for the API and the websockets: simplejwt's, with the user
read together with their roles.

simplejwt loads the user (``user_model.objects.get``) and the view then asks for the roles
(``user_roles``: the user's groups): two queries on every request. Here simplejwt's
``get_user`` reads the user through ``user_with_roles``, one query for both; every check
is still simplejwt's own (user id claim, unknown user, inactive user, revoked token).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication

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


class JWTAuthentication(authentication.JWTAuthentication):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user_model = _UsersWithRoles()


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme: simplejwt's (``jwtAuth``), for this subclass too."""

    target_class = "escashop.api_authentication.JWTAuthentication"
