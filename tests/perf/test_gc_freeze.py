"""The ASGI module freezes what loading the project made (escashop/asgi.py), so the cyclic
garbage collector's full passes scan only what the server made since."""

from __future__ import annotations

from tests.support.fresh_python import fresh_python


def test_loading_the_asgi_application_freezes_the_startup_objects():
    code = (
        "import gc; before = gc.get_freeze_count(); import escashop.asgi; "
        "print(before, gc.get_freeze_count(), len(gc.get_objects()))"
    )
    before, frozen, tracked = map(int, fresh_python(code).split())
    assert before == 0
    # Django, DRF, Channels and the project: tens of thousands of objects, now out of the
    # collector's reach, against the few left tracked.
    assert frozen > 20_000
    assert tracked < frozen / 4
