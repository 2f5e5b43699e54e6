"""URL map: the shop page, the admin and the REST API. ``/healthz`` and ``/metrics`` are
answered before the middleware chain (``escashop.ops.OpsEndpointsMiddleware``)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.shop, name="shop"),
    path("admin/", admin.site.urls),
    path("api/", include("escashop.api_urls")),
]
