"""Where Redis is: one host, several hosts, or a Sentinel-managed master (settings.py).

Pure functions from the environment's values to the channel layer's ``hosts`` and Django's
cache settings, so each layout is tested without starting Django again.

- One host: ``REDIS_URL=redis://host:6379/0``.
- Several hosts: ``REDIS_URL=redis://a:6379/0,redis://b:6379/0``. channels-redis shards
  channels and groups across them (every process must list them in the same order); the
  cache (login throttling) uses the first.
- Sentinel: ``ESCASHOP_REDIS_SENTINELS=s1:26379,s2:26379`` and
  ``ESCASHOP_REDIS_SENTINEL_MASTER=mymaster`` (``REDIS_URL`` unset). The channel layer and
  the cache follow whichever server the Sentinels name as master, through failovers.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured
from redis.sentinel import Sentinel, SentinelConnectionPool


def without_password(url: str) -> str:
    """A URL fit for a message or a log: whatever lies between its scheme and the last ``@``
    (a user and password, however malformed) hidden."""
    if "@" not in url:
        return url
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/", url)  # "redis:/", "http:/"; else none
    return f"{scheme.group(0)[:-1] if scheme else ''}***@{url.rpartition('@')[2]}"


def sentinel_addresses(values: list[str]) -> list[tuple[str, int]]:
    """``["s1:26379", "[::1]:26379"]`` → ``[("s1", 26379), ("::1", 26379)]``."""
    addresses = []
    for value in values:
        host, sep, port = value.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ImproperlyConfigured(
                f"ESCASHOP_REDIS_SENTINELS: {value!r} is not host:port (e.g. sentinel1:26379)."
            )
        addresses.append((host.strip("[]"), int(port)))
    return addresses


#: The cache's socket timeouts (seconds): login throttling asks it on every login, and a
#: Redis that hangs instead of refusing must not hang logins (``escashop.auth_api``).
CACHE_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


def redis_layout(
    *, url: str, sentinels: list[str], master: str, db: int = 0
) -> tuple[list, dict | None]:
    """The channel layer's ``hosts`` and the cache's settings (None: no Redis configured)."""
    urls = [u.strip() for u in url.split(",") if u.strip()]
    if sentinels or master:
        if urls:
            raise ImproperlyConfigured(
                "Set either REDIS_URL or ESCASHOP_REDIS_SENTINELS with "
                "ESCASHOP_REDIS_SENTINEL_MASTER, not both."
            )
        if not (sentinels and master):
            raise ImproperlyConfigured(
                "Sentinel needs both ESCASHOP_REDIS_SENTINELS (host:port, comma-separated) "
                "and ESCASHOP_REDIS_SENTINEL_MASTER (the monitored master's name)."
            )
        addresses = sentinel_addresses(sentinels)
        host = {"sentinels": addresses, "master_name": master, "db": db}
        cache = {
            "LOCATION": f"redis://sentinel-{master}/{db}",  # not dialled: the pool asks
            "OPTIONS": {
                "pool_class": "escashop.redis_config.SentinelCachePool",
                "sentinels": addresses,
                "master_name": master,
                **CACHE_TIMEOUTS,
            },
        }
        return [host], cache
    if not urls:
        return [], None
    for u in urls:
        if not u.startswith(("redis://", "rediss://", "unix://")):
            raise ImproperlyConfigured(f"REDIS_URL: {without_password(u)!r} is not a redis:// URL.")
    return urls, {"LOCATION": urls[0], "OPTIONS": dict(CACHE_TIMEOUTS)}


class SentinelCachePool(SentinelConnectionPool):
    """Django's RedisCache makes its pool with ``pool_class.from_url(location, **OPTIONS)``;
    this one ignores the location and asks the Sentinels for the master instead."""

    @classmethod
    def from_url(cls, url, *, sentinels, master_name, **kwargs):
        db = int(url.rsplit("/", 1)[-1] or 0)
        # The Sentinels asked for the master time out as the master's connections do.
        sentinel = Sentinel(sentinels, sentinel_kwargs=dict(CACHE_TIMEOUTS))
        return cls(master_name, sentinel, db=db, **kwargs)
