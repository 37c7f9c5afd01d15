"""Where deliveries may go: the SSRF rule of SPEC §11, checked when a subscription is stored and again at every
connection, on the address actually dialled.

A URL whose host resolves to a loopback, private, link-local, shared, reserved or multicast address is refused
unless `CSROI_WEBHOOK_ALLOW_PRIVATE=true`. Checking the name when the subscription is stored is not enough: DNS may
answer differently later (rebinding). So the delivery client resolves the name itself, checks every address, and
connects to a checked one; TLS still verifies the certificate against the URL's host name.
"""

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

# The resolver, one place for tests to replace: (host, port) -> the addresses a connection could reach.
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: str) -> bool:
    """True for a globally routable unicast address; False for loopback, private (RFC 1918, fc00::/7), link-local,
    shared (100.64/10), documentation, reserved, unspecified and multicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class UrlRefused(ValueError):
    """A webhook URL that may not be used; the message says why, for a 422 or a delivery's error."""


def private_addresses(addresses: Iterable[str]) -> list[str]:
    """The addresses among `addresses` that are not public."""
    return [a for a in addresses if not is_public(a)]


def check_host(host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None) -> list[str]:
    """The addresses to connect to for host:port; UrlRefused when it does not resolve or, unless allowed, when any
    address it resolves to is not public (one private answer is enough to refuse: the client could dial it)."""
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"the host {host!r} does not resolve ({exc.__class__.__name__})") from None
    if not addresses:
        raise UrlRefused(f"the host {host!r} does not resolve")
    if not allow_private:
        private = private_addresses(addresses)
        if private:
            raise UrlRefused(
                f"the host {host!r} resolves to a loopback or private address ({private[0]}); webhooks go to public "
                "addresses unless CSROI_WEBHOOK_ALLOW_PRIVATE=true"
            )
    return addresses


def check_url(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> None:
    """UrlRefused unless `url` is http(s) with a host that may be dialled (see `check_host`)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:  # a control character, a bad port: what the body's type cannot rule out
        raise UrlRefused(f"the URL is not valid ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UrlRefused("a webhook URL is http:// or https:// with a host")
    check_host(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), allow_private=allow_private,
               resolver=resolver)  # fmt: skip


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, dialling only addresses `check_host` allows (the check at connection time)."""

    def __init__(self, *, allow_private: bool, resolver: Resolver | None) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = check_host(host, port, allow_private=self._allow_private, resolver=self._resolver)
        except UrlRefused as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from None
        error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next address, as a resolver's client would
                error = exc
        raise error or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise httpcore.ConnectError("webhooks are delivered over TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded backend: every connection it opens goes through `check_host`.

    It replaces the transport's connection pool (httpx builds one in `__init__` and offers no parameter for the
    backend); `tests/webhooks/test_urls.py` fails if a later httpx stops using it.
    """

    def __init__(self, *, allow_private: bool, max_connections: int, resolver: Resolver | None = None) -> None:
        super().__init__(trust_env=False, limits=httpx.Limits(max_connections=max_connections))
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=_GuardedBackend(allow_private=allow_private, resolver=resolver),
        )


def make_client(*, allow_private: bool, timeout: float, max_connections: int) -> httpx.Client:
    """The delivery client: guarded connections, no proxies from the environment, no redirects followed (a 3xx is
    not a 2xx, and a redirect could point anywhere), one timeout for connect, write and read."""
    return httpx.Client(
        transport=GuardedTransport(allow_private=allow_private, max_connections=max_connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
