"""URL map: the shop page, the admin and the REST API. ``/healthz`` and ``/metrics`` are
answered before the middleware chain (``escashop.ops.OpsEndpointsMiddleware``)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from . import views
from .auth_api import admin_login

# A request Django refuses before any view (more than DATA_UPLOAD_MAX_NUMBER_FIELDS query
# parameters, say): under /api/ in the API's shape, elsewhere Django's page.
handler400 = "escashop.views.bad_request"

urlpatterns = [
    path("", views.shop, name="shop"),
    path("admin/login/", admin_login),  # the admin's own view, throttled as the API login is
    path("admin/", admin.site.urls),
    path("api/", include("escashop.api_urls")),
]
