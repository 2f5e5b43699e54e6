"""URL map: the shop page, the admin, the REST API, and operations endpoints."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from . import ops, views

urlpatterns = [
    path("", views.shop, name="shop"),
    path("admin/", admin.site.urls),
    path("api/", include("escashop.api_urls")),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
]
