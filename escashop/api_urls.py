"""REST API routes (SPEC section 4)."""

from __future__ import annotations

urlpatterns: list = []
