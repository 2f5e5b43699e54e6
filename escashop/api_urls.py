"""REST API routes (SPEC section 4), all under ``/api/``."""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from payments.views import SettlementViewSet, TransactionSettlementsView
from realtime.views import PaymentEventsView
from transactions.views import CustomerViewSet, TransactionViewSet

from . import api_ids  # noqa: F401 (registers the "id" path converter)
from .auth_api import LoginView, LogoutView, MeView, RefreshView

# Converter paths, not regexes: object ids go through the "id" converter (api_ids.py).
router = SimpleRouter(use_regex_path=False)
router.register("customers", CustomerViewSet, basename="customer")
router.register("transactions", TransactionViewSet, basename="transaction")
router.register("settlements", SettlementViewSet, basename="settlement")


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema: JSON unless YAML is asked for (``Accept: application/yaml`` or
    ``?format=yaml``). drf-spectacular answers YAML to a client that accepts anything, which
    ``response.json()`` cannot read; JSON is also valid YAML, so JSON first suits both."""

    renderer_classes = [
        OpenApiJsonRenderer,
        OpenApiJsonRenderer2,
        OpenApiYamlRenderer,
        OpenApiYamlRenderer2,
    ]


@csrf_exempt  # any method: a POST to a wrong URL is a 404 too, not a CSRF failure
def not_found(request, path: str = "") -> JsonResponse:
    """Unknown URLs under /api/ (``/api/`` itself included) answer in the API's shape, not
    with Django's HTML page. Only paths ending in a slash: a missing slash still gets
    APPEND_SLASH's redirect (308, escashop.append_slash) to the URL with it."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    path("auth/token/", LoginView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", RefreshView.as_view(), name="token_refresh"),
    path("auth/logout/", LogoutView.as_view(), name="token_logout"),
    path("auth/me/", MeView.as_view(), name="auth_me"),
    path(
        "transactions/<id:transaction_pk>/settlements/",
        TransactionSettlementsView.as_view(),
        name="transaction-settlements",
    ),
    path("payment-events/", PaymentEventsView.as_view(), name="payment-events"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include(router.urls)),
    # /api/ itself too; (?s:…): a %0A in the path is a character like any other.
    re_path(r"^(?P<path>(?s:.*)/)?$", not_found),
]
