"""URL map: the admin, the REST API under /api/, and the shop page at /."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
