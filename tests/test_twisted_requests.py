"""escashop.twisted_requests: daphne's requests leave a POST's body to Django; Twisted neither
reads its Content-Type nor parses a form into ``args``, and the body reaches the app whole."""

from __future__ import annotations

import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from io import BytesIO
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from daphne import http_protocol
from twisted.web import http
from twisted.web.test.requesthelper import DummyChannel

from escashop import twisted_requests
from tests.support.fresh_python import fresh_python

FORM = b"username=cashier1&password=secret"
BAD_MULTIPART = b"--x\r\nnot a part"


def received(request_class, body: bytes, content_type: bytes):
    """A request of ``request_class`` that received ``body``, stopped before daphne's
    process() (which would hand it to the ASGI app)."""

    class Stopped(request_class):
        processed = False

        def process(self):
            self.processed = True

    channel = DummyChannel()
    channel.factory = SimpleNamespace(server=SimpleNamespace(protocol_connected=lambda r: None))
    channel.refused = False  # what Twisted's HTTPChannel does for a bad request, recorded:

    def refuse():
        channel.refused = True

    channel._respondToBadRequestAndDisconnect = refuse
    request = Stopped(channel)
    request.requestHeaders.setRawHeaders(b"Content-Type", [content_type])
    request.content = BytesIO(body)
    request.content.seek(0, 2)  # as Twisted leaves it after the last chunk
    request.requestReceived(b"POST", b"/admin/login/", b"HTTP/1.1")
    return request


@pytest.fixture
def content_type_reads(monkeypatch):
    reads = []
    parse = http._parseContentType
    monkeypatch.setattr(http, "_parseContentType", lambda line: reads.append(line) or parse(line))
    return reads


def test_daphnes_own_request_parses_a_form_twice_over(content_type_reads):
    request = received(twisted_requests._daphne_request, FORM, b"application/x-www-form-urlencoded")
    assert request.processed
    assert request.args == {b"username": [b"cashier1"], b"password": [b"secret"]}
    assert content_type_reads == [b"application/x-www-form-urlencoded"]


@pytest.mark.parametrize(
    "content_type",
    [b"application/x-www-form-urlencoded", b"application/json", b"multipart/form-data; boundary=x"],
)
def test_the_body_is_left_whole_and_unread(content_type, content_type_reads):
    request = received(twisted_requests.BodyLeftToDjango, FORM, content_type)
    assert request.processed
    assert request.args == {}
    assert content_type_reads == []
    assert request.content.read() == FORM  # rewound, whole: daphne sends it to the app


def test_a_malformed_multipart_body_is_left_to_django_too():
    # Daphne's own request is refused by Twisted (a bare 400, the connection closed) before
    # the app sees it; now it reaches Django, whose parser refuses it (the test below).
    own = received(twisted_requests._daphne_request, BAD_MULTIPART, b"multipart/form-data")
    assert own.channel.refused and not own.processed
    request = received(twisted_requests.BodyLeftToDjango, BAD_MULTIPART, b"multipart/form-data")
    assert request.processed and not request.channel.refused


def test_install_is_idempotent_and_uninstall_restores_daphne():
    was = http_protocol.WebRequest is twisted_requests.BodyLeftToDjango
    try:
        assert twisted_requests.install() and twisted_requests.install()
        assert http_protocol.WebRequest is twisted_requests.BodyLeftToDjango
        twisted_requests.uninstall()
        assert http_protocol.WebRequest is twisted_requests._daphne_request
        assert twisted_requests.supported()
    finally:
        (twisted_requests.install if was else twisted_requests.uninstall)()


def test_loading_the_asgi_application_installs_it():
    code = (
        "import escashop.asgi; from daphne.http_protocol import HTTPFactory; "
        "from escashop.twisted_requests import BodyLeftToDjango; "
        "print(HTTPFactory(None).buildProtocol(None).requestFactory is BodyLeftToDjango)"
    )
    assert fresh_python(code).split() == ["True"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_under_daphne_django_reads_a_form_and_refuses_a_malformed_one(daphne_server):
    login = f"{daphne_server.base_url}/admin/login/"
    cookies = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    opener.open(login, timeout=10).read()
    token = next(c.value for c in cookies if c.name == "csrftoken")

    form = urlencode({"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong"})
    with opener.open(login, data=form.encode(), timeout=10) as resp:  # the token read from the body
        assert resp.status == 200
        assert b"Please enter the correct username and password" in resp.read()

    bad = urllib.request.Request(login, data=BAD_MULTIPART, method="POST")
    bad.add_header("Content-Type", "multipart/form-data")
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(bad, timeout=10)
    assert refused.value.code == 400
    assert refused.value.headers["X-Content-Type-Options"] == "nosniff"  # Django's, not Twisted's
