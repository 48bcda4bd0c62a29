"""Sending a webhook without letting it reach inside the network (no request forgery).

A webhook URL names a host the portal's users choose, so the request is checked the way
CVE-2026-2393 (MLflow's webhooks) shows it must be:

- https only; http only when MLPORTAL_WEBHOOKS["ALLOW_HTTP"] is on (development);
- the host is resolved once, and every address it resolves to is checked: no loopback,
  private, link-local, multicast, reserved or unspecified address, no cloud metadata
  address (169.254.169.254, fd00:ec2::254), unless MLPORTAL_WEBHOOKS["ALLOWED_NETWORKS"]
  names it;
- the connection goes to the checked address itself (no second resolution, so DNS
  rebinding cannot swap it), with the host name kept for TLS (SNI, certificate) and the
  Host header;
- redirects are not followed (a 3xx is a failed attempt), timeouts are short, and at most
  MAX_RESPONSE_BYTES of the answer are read.

Messages are signed as the Standard Webhooks specification says (`webhook-id`,
`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`),
by its reference package, `standardwebhooks`.
"""

import datetime
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from standardwebhooks.webhooks import Webhook

METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"),
                      ipaddress.ip_address("fd00:ec2::254")}
USER_AGENT = "mlportal-webhooks/1"


class Refused(Exception):
    """The request would reach an address or a scheme webhooks may not use."""


def options():
    return settings.MLPORTAL_WEBHOOKS


def url_error(url):
    """Why `url` cannot be a webhook's address, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a valid URL."
    allowed = ("https", "http") if options()["ALLOW_HTTP"] else ("https",)
    if parts.scheme not in allowed:
        return ("Webhooks are sent over https only." if parts.scheme == "http"
                else f"Use an {' or '.join(allowed)} URL.")
    if not parts.hostname:
        return "The URL names no host."
    if parts.username or parts.password:
        return "No credentials in the URL: the signature authenticates the portal."
    if port == 0:
        return "Not a valid port."
    return None


def _allowed_networks():
    return [ipaddress.ip_network(item, strict=False) for item in options()["ALLOWED_NETWORKS"]]


def address_error(address):
    """Why a webhook may not connect to `address` (an ip_address), or None."""
    if any(address in network for network in _allowed_networks()):
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return address_error(mapped)
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address."
    for kind, flag in (("loopback", address.is_loopback),
                       ("unspecified", address.is_unspecified),
                       ("link-local", address.is_link_local),
                       ("multicast", address.is_multicast), ("reserved", address.is_reserved),
                       ("private", address.is_private)):
        if flag:
            return f"{address} is a {kind} address."
    if not address.is_global:
        return f"{address} is not a public address."
    return None


def resolve(host, port):
    """The addresses of `host`, each checked; Refused when any of them is forbidden."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"Cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0])
                                   for info in infos))
    for address in addresses:
        error = address_error(address)
        if error:
            raise Refused(f"{host} resolves to {error} Webhooks do not reach it.")
    if not addresses:
        raise Refused(f"{host} resolves to no address.")
    return addresses


class _PinnedMixin:
    """Connects to the checked address, never resolving the host again."""

    def __init__(self, host, port, *, address, connect_timeout, read_timeout, **kwargs):
        super().__init__(host, port, timeout=connect_timeout, **kwargs)
        self._address = str(address)
        self._read_timeout = read_timeout

    def _open(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.settimeout(self._read_timeout)
        return sock


class PinnedHTTPConnection(_PinnedMixin, http.client.HTTPConnection):
    def connect(self):
        self.sock = self._open()


class PinnedHTTPSConnection(_PinnedMixin, http.client.HTTPSConnection):
    def connect(self):
        sock = self._open()
        # TLS checks the certificate against the host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    body: str = ""
    error: str = ""
    retry: bool = True


def sign(secret, *, message_id, timestamp, body):
    """The Standard Webhooks headers for `body` (str)."""
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def send(url, *, secret, message_id, body):
    """POST `body` (JSON text) to `url`, signed with `secret`; never raises, says how it
    went."""
    error = url_error(url)
    if error:
        return Outcome(ok=False, error=error, retry=False)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(parts.hostname, port)
    except Refused as exc:
        return Outcome(ok=False, error=str(exc), retry=False)
    timestamp = datetime.datetime.now(datetime.UTC)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **sign(secret, message_id=message_id, timestamp=timestamp, body=body),
    }
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    last_error = ""
    for address in addresses:
        connection_class = (PinnedHTTPSConnection if parts.scheme == "https"
                            else PinnedHTTPConnection)
        extra = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
        connection = connection_class(
            parts.hostname, port, address=address,
            connect_timeout=options()["CONNECT_TIMEOUT"], read_timeout=options()["READ_TIMEOUT"],
            **extra)
        try:
            connection.request("POST", path, body=body.encode(), headers=headers)
            response = connection.getresponse()
            answer = response.read(options()["MAX_RESPONSE_BYTES"])
            text = answer.decode(errors="replace")
            if 300 <= response.status < 400:
                return Outcome(ok=False, status_code=response.status, body=text, error=(
                    "Redirects are not followed: point the subscription at the final URL."))
            ok = 200 <= response.status < 300
            return Outcome(ok=ok, status_code=response.status, body=text,
                           error="" if ok else f"The receiver answered {response.status}.")
        except (OSError, http.client.HTTPException) as exc:
            last_error = f"{type(exc).__name__}: {exc}"[:400]
        finally:
            connection.close()
    return Outcome(ok=False, error=f"Cannot deliver: {last_error}")
