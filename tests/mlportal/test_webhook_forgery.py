"""No request forgery through webhooks (CVE-2026-2393 in MLflow): every refusal, each
tested against the real sending code (mlportal.webhooks.send)."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlportal import webhooks

SECRET = "whsec_" + "A" * 43 + "="


@pytest.fixture
def strict(settings):
    """Production's settings: https only, public addresses only."""
    settings.MLPORTAL_WEBHOOKS = {**settings.MLPORTAL_WEBHOOKS, "ALLOW_HTTP": False,
                                  "ALLOWED_NETWORKS": []}


def send(url):
    return webhooks.send(url, secret=SECRET, message_id="msg_1", body="{}")


def resolving_to(monkeypatch, *addresses):
    """Make every host name resolve to `addresses`; returns the list of look-ups made."""
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_http_is_refused_unless_the_setting_allows_it(strict):
    outcome = send("http://hooks.example.com/x")

    assert not outcome.ok and not outcome.retry
    assert "https only" in outcome.error


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/", "file:///etc/passwd",
                                 "https://user:pw@hooks.example.com/", "https:///nohost"])
def test_other_schemes_credentials_and_hostless_urls_are_refused(strict, url):
    outcome = send(url)

    assert not outcome.ok and not outcome.retry and outcome.error


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.7", "private"),
    ("172.16.3.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.10.10", "link-local"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "not a public"),
])
def test_addresses_inside_the_network_are_refused(strict, monkeypatch, address, kind):
    lookups = resolving_to(monkeypatch, address)

    outcome = send("https://hooks.example.com/x")

    assert not outcome.ok and not outcome.retry
    assert kind in outcome.error and "Webhooks do not reach it" in outcome.error
    assert lookups == ["hooks.example.com"]


def test_a_literal_address_is_checked_too(strict):
    outcome = send("https://169.254.169.254/latest/meta-data/")

    assert not outcome.ok and "metadata" in outcome.error


def test_one_forbidden_address_among_public_ones_refuses_the_host(strict, monkeypatch):
    resolving_to(monkeypatch, "93.184.216.34", "10.1.2.3")

    outcome = send("https://hooks.example.com/x")

    assert not outcome.ok and "10.1.2.3 is a private address" in outcome.error


def test_the_allow_list_lets_a_named_network_through(settings, monkeypatch):
    settings.MLPORTAL_WEBHOOKS = {**settings.MLPORTAL_WEBHOOKS, "ALLOW_HTTP": False,
                                  "ALLOWED_NETWORKS": ["10.20.0.0/16"]}
    resolving_to(monkeypatch, "10.20.1.1")
    assert webhooks.resolve("hooks.internal", 443) == [webhooks.ipaddress.ip_address("10.20.1.1")]
    resolving_to(monkeypatch, "10.21.1.1")
    with pytest.raises(webhooks.Refused):
        webhooks.resolve("hooks.internal", 443)


class Server:
    """A local receiver whose handler the test chooses."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def handler(respond):
    class Handler(BaseHTTPRequestHandler):
        requests = []

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            Handler.requests.append((self.path, self.headers.get("Host")))
            respond(self)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def local(settings):
    settings.MLPORTAL_WEBHOOKS = {**settings.MLPORTAL_WEBHOOKS, "ALLOW_HTTP": True,
                                  "ALLOWED_NETWORKS": ["127.0.0.1/32"], "READ_TIMEOUT": 0.5,
                                  "MAX_RESPONSE_BYTES": 100}
    servers = []

    def start(respond):
        server = Server(handler(respond))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(
        local, monkeypatch):
    def ok(request):
        request.send_response(204)
        request.end_headers()

    server = local(ok)
    # DNS rebinding: the first answer passes the check, a second one would point elsewhere.
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    lookups = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example.com":
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in next(answers)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    outcome = send(f"http://rebind.example.com:{server.port}/hook?x=1")

    assert outcome.ok and outcome.status_code == 204
    assert lookups == ["rebind.example.com"]
    assert server.server.RequestHandlerClass.requests == [
        ("/hook?x=1", f"rebind.example.com:{server.port}")]


def test_redirects_are_not_followed(local):
    def redirect(request):
        request.send_response(307)
        request.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        request.send_header("Content-Length", "0")
        request.end_headers()

    server = local(redirect)

    outcome = send(f"http://127.0.0.1:{server.port}/hook")

    assert not outcome.ok and outcome.status_code == 307
    assert "Redirects are not followed" in outcome.error
    assert len(server.server.RequestHandlerClass.requests) == 1


def test_a_slow_receiver_times_out(local):
    def slow(request):
        time.sleep(2)
        request.send_response(200)
        request.end_headers()

    server = local(slow)

    started = time.monotonic()
    outcome = send(f"http://127.0.0.1:{server.port}/hook")

    assert not outcome.ok and outcome.retry and "timed out" in outcome.error
    assert time.monotonic() - started < 1.5


def test_only_the_first_bytes_of_an_answer_are_read(local):
    def huge(request):
        body = b"x" * 1_000_000
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        try:
            request.wfile.write(body)
        except OSError:
            pass

    server = local(huge)

    outcome = send(f"http://127.0.0.1:{server.port}/hook")

    assert outcome.ok and len(outcome.body) == 100


def test_loopback_is_refused_without_the_allow_list(settings):
    settings.MLPORTAL_WEBHOOKS = {**settings.MLPORTAL_WEBHOOKS, "ALLOW_HTTP": True,
                                  "ALLOWED_NETWORKS": []}

    outcome = send("http://localhost:8000/hook")

    assert not outcome.ok and "loopback" in outcome.error
