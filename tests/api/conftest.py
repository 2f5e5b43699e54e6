"""REST API test kit: an authenticated APIClient per member of the cast, isolated throttles.

``api(user)`` is a client sending that user's access token (``api(None)``: no token); the
cast itself (ada the admin, carla and carlo the cashiers, sam and sofia in sales, nora with
no role, ines inactive) comes from tests/conftest.py.
"""

from __future__ import annotations

import math
import uuid

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

#: The cache the project is configured with (Redis when REDIS_URL is set), for the tests
#: that must show throttle counts shared between processes.
CONFIGURED_CACHES = django_settings.CACHES


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """A fresh in-process cache per test, so login throttle counts never leak between tests
    (nor into a developer's Redis); and the throttle's fallback for an unreachable Redis
    reset, with its counts (a test that met the outage leaves it on for 5 s)."""
    from escashop.auth_api import LoginFailureThrottle

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"api-test-{uuid.uuid4()}",
        }
    }
    counts = LoginFailureThrottle.cache
    counts.local.clear()
    counts._failed_at = -math.inf
    yield
    counts.local.clear()
    counts._failed_at = -math.inf


def bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api():
    """``api(user)``: an APIClient authenticated with that user's access token."""

    def make(user) -> APIClient:
        if user is None:
            return APIClient()
        return bearer(AccessToken.for_user(user))

    return make


@pytest.fixture
def refresh_token():
    return lambda user: RefreshToken.for_user(user)
