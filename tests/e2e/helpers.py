"""Helpers for the browser tests that are not fixtures."""

from __future__ import annotations

import json
import threading

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.db import connections
from rest_framework_simplejwt.tokens import RefreshToken


def off_loop(fn, /, *args, **kwargs):
    """Run ``fn`` in a fresh thread and return its result (or raise its exception).

    Writes made while the browser is open go through here: Playwright's loop counts as
    running in the test's thread, so the on-commit relay to the channel layer
    (``async_to_sync``) would refuse to run there. The thread's connection commits as usual
    (these are ``transaction=True`` tests) and is closed before returning.
    """
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="e2e-off-loop")
    thread.start()
    thread.join(timeout=60)
    if thread.is_alive():
        raise TimeoutError(f"{fn!r} did not finish within 60 s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def server_password_set(user: User, password: str) -> None:
    """Store ``password`` so the daphne subprocess can check it.

    The suite hashes passwords with MD5 for speed, a hasher the server (default settings)
    does not have. PBKDF2 with few iterations is one it has: the iteration count travels
    in the hash, so the server verifies it quickly (and upgrades it on first login).
    """
    encoded = PBKDF2PasswordHasher().encode(password, "e2esalt1234", iterations=1000)
    User.objects.filter(pk=user.pk).update(password=encoded)


def session_script(user: User) -> str:
    """An init script that puts a fresh token pair for ``user`` where the page keeps it
    (sessionStorage "escashop.session", see escashop/static/shop/api.js), unless a session
    is already there (so a reload keeps what the page stored)."""
    refresh = RefreshToken.for_user(user)
    access = refresh.access_token
    lifetime_ms = int((access["exp"] - access["iat"]) * 1000)
    tokens = json.dumps({"access": str(access), "refresh": str(refresh)})
    return f"""
      if (!sessionStorage.getItem("escashop.session")) {{
        const tokens = {tokens};
        sessionStorage.setItem("escashop.session", JSON.stringify({{
          ...tokens, expiresAt: Date.now() + {lifetime_ms}, lifetimeMs: {lifetime_ms},
        }}));
      }}
    """
