"""Redis layouts selected by settings: one host, several hosts, a Sentinel-managed master.

The Sentinel test starts a real ``redis-server --sentinel`` on loopback monitoring the test
Redis, and runs the project (settings from the environment, as daphne would) through it:
a channel-layer round trip on both layers and the cache that login throttling uses.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.exceptions import ImproperlyConfigured

from escashop.redis_config import CACHE_TIMEOUTS, redis_layout
from tests.support.services import require_redis, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


def test_one_host():
    hosts, cache = redis_layout(url="redis://r1:6379/0", sentinels=[], master="")
    assert hosts == ["redis://r1:6379/0"]
    assert cache == {"LOCATION": "redis://r1:6379/0", "OPTIONS": CACHE_TIMEOUTS}


def test_several_hosts_shard_the_layer_and_the_cache_uses_the_first():
    hosts, cache = redis_layout(url="redis://r1:6379/0, redis://r2:6379/0", sentinels=[], master="")
    assert hosts == ["redis://r1:6379/0", "redis://r2:6379/0"]
    assert cache == {"LOCATION": "redis://r1:6379/0", "OPTIONS": CACHE_TIMEOUTS}


def test_sentinel():
    hosts, cache = redis_layout(url="", sentinels=["s1:26379", "[::1]:26380"], master="shop", db=0)
    assert hosts == [{"sentinels": [("s1", 26379), ("::1", 26380)], "master_name": "shop", "db": 0}]
    assert cache["OPTIONS"]["master_name"] == "shop"
    assert cache["OPTIONS"]["pool_class"] == "escashop.redis_config.SentinelCachePool"
    assert cache["OPTIONS"]["socket_timeout"] == CACHE_TIMEOUTS["socket_timeout"]


def test_the_sentinels_asked_for_the_master_time_out_too():
    """A Sentinel that hangs must not hang the logins whose throttle asks the cache."""
    from escashop.redis_config import SentinelCachePool

    pool = SentinelCachePool.from_url(
        "redis://sentinel-shop/0", sentinels=[("127.0.0.1", 1)], master_name="shop"
    )
    for sentinel in pool.sentinel_manager.sentinels:
        options = sentinel.connection_pool.connection_kwargs
        assert options["socket_timeout"] == CACHE_TIMEOUTS["socket_timeout"]
        assert options["socket_connect_timeout"] == CACHE_TIMEOUTS["socket_connect_timeout"]


def test_no_redis():
    assert redis_layout(url="", sentinels=[], master="") == ([], None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "redis://r1", "sentinels": ["s1:26379"], "master": "m"}, "not both"),
        ({"url": "", "sentinels": ["s1:26379"], "master": ""}, "needs both"),
        ({"url": "", "sentinels": [], "master": "m"}, "needs both"),
        ({"url": "", "sentinels": ["s1"], "master": "m"}, "not host:port"),
        ({"url": "http://r1:6379", "sentinels": [], "master": ""}, "not a redis:// URL"),
    ],
)
def test_bad_layouts_fail_loudly(kwargs, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        redis_layout(**kwargs)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis:/:S3cretRedisPass@10.0.0.5:6379/0", "'redis:***@10.0.0.5:6379/0'"),
        ("http://user:S3cretRedisPass@r1:6379", "'http:***@r1:6379'"),
        ("S3cretRedisPass@r1", "'***@r1'"),
        ("S3c:retRedisPass@r1", "'***@r1'"),
    ],
)
def test_a_bad_url_is_named_without_its_password(url, shown):
    with pytest.raises(ImproperlyConfigured) as refused:
        redis_layout(url=url, sentinels=[], master="")
    assert "S3cret" not in str(refused.value)
    assert shown in str(refused.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sentinel(tmp_path):
    url = urlparse(require_redis())
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("needs redis-server (Debian: apt-get install redis-server) for Sentinel")
    port = _free_port()
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites its config: a file of its own
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize no\n"
        f"sentinel monitor escashop-test {url.hostname} {url.port or 6379} 1\n"
    )
    proc = subprocess.Popen(
        [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                master = redis.Redis(port=port, socket_timeout=1).sentinel_get_master_addr_by_name(
                    "escashop-test"
                )
                if master:
                    break
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Sentinel did not start within 10 s")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


ROUND_TRIP = """
import asyncio, uuid
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.conf import settings

async def main():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = "sentinel-test-" + uuid.uuid4().hex
    await layer.group_add(group, channel)
    await asyncio.sleep(0.2)
    await layer.group_send(group, {"type": "probe", "n": 7})
    message = await asyncio.wait_for(layer.receive(channel), 5)
    await layer.group_discard(group, channel)
    print("layer", type(layer).__name__, message["n"])

asyncio.run(main())
key = "sentinel-test-" + uuid.uuid4().hex
cache.set(key, 41, 30)
print("cache", cache.incr(key))
print("hosts", settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["master_name"])
"""


@pytest.mark.integration
@pytest.mark.parametrize("flavour", ["pubsub", "core"])
def test_the_project_runs_through_sentinel(sentinel, flavour):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DJANGO_DEBUG="1",
        ESCASHOP_REDIS_SENTINELS=f"127.0.0.1:{sentinel}",
        ESCASHOP_REDIS_SENTINEL_MASTER="escashop-test",
        ESCASHOP_CHANNEL_LAYER=flavour,
        ESCASHOP_CHANNEL_PREFIX="sentinel-test",
        ESCASHOP_CACHE_PREFIX="sentinel-test",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ROUND_TRIP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    layer = "RedisPubSubChannelLayer" if flavour == "pubsub" else "RedisChannelLayer"
    assert f"layer {layer} 7" in result.stdout
    assert "cache 42" in result.stdout
    assert "hosts escashop-test" in result.stdout
