"""The SSRF rule (SPEC §11): which addresses deliveries may reach, checked on the address actually dialled."""

import httpx
import pytest

from app.webhooks import urls
from tests.receiver import Receiver


class TestIsPublic:
    @pytest.mark.parametrize(
        "address",
        ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
         "::1", "fc00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "ff02::1", "192.0.2.1"],
    )  # fmt: skip
    def test_loopback_private_link_local_shared_reserved_and_multicast_are_not(self, address: str) -> None:
        assert urls.is_public(address) is False

    @pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
    def test_global_unicast_is(self, address: str) -> None:
        assert urls.is_public(address) is True


class TestCheckHost:
    def test_one_private_answer_among_public_ones_refuses(self) -> None:
        with pytest.raises(urls.UrlRefused, match=r"loopback or private address \(10\.0\.0\.7\)"):
            urls.check_host("mixed.example", 443, allow_private=False, resolver=lambda h, p: ["8.8.8.8", "10.0.0.7"])

    def test_allowed_private_addresses_pass(self) -> None:
        addresses = urls.check_host("db.internal", 80, allow_private=True, resolver=lambda h, p: ["10.0.0.7"])
        assert addresses == ["10.0.0.7"]

    def test_a_name_that_does_not_resolve_is_refused(self) -> None:
        def fail(host: str, port: int) -> list[str]:
            raise OSError("Name or service not known")

        with pytest.raises(urls.UrlRefused, match="does not resolve"):
            urls.check_host("nowhere.invalid", 443, allow_private=True, resolver=fail)


class TestGuardedTransport:
    def test_a_private_address_is_refused_at_connection_time(self, receiver: Receiver) -> None:
        """The check runs where httpx connects: the stored URL passed, but what it resolves to now is private."""
        client = httpx.Client(transport=urls.GuardedTransport(allow_private=False, max_connections=1))
        with (
            client,
            pytest.raises(httpx.ConnectError, match=r"refused: the host '127\.0\.0\.1' resolves to a loopback"),
        ):
            client.post(receiver.url, content=b"{}")
        assert receiver.requests == []

    def test_a_name_rebound_to_a_private_address_is_refused(self, receiver: Receiver) -> None:
        """DNS rebinding: a public-looking name that now resolves to loopback is never dialled."""
        port = int(receiver.url.split(":")[2].split("/")[0])
        transport = urls.GuardedTransport(allow_private=False, max_connections=1, resolver=lambda h, p: ["127.0.0.1"])
        with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError, match="refused"):
            client.post(f"http://hooks.example.com:{port}/hook", content=b"{}")
        assert receiver.requests == []

    def test_the_checked_address_is_the_one_dialled(self, receiver: Receiver) -> None:
        """With private addresses allowed, the name resolves through the guard to the receiver, which answers."""
        port = int(receiver.url.split(":")[2].split("/")[0])
        transport = urls.GuardedTransport(allow_private=True, max_connections=1, resolver=lambda h, p: ["127.0.0.1"])
        with httpx.Client(transport=transport) as client:
            answer = client.post(f"http://hooks.example.com:{port}/hook", content=b"{}")
        assert answer.status_code == 200
        assert receiver.requests[0].headers["Host"] == f"hooks.example.com:{port}"


def test_a_url_httpx_cannot_parse_is_refused_not_a_500() -> None:
    """A control character in the URL (found by schemathesis): UrlRefused (a 422 naming `url`), not InvalidURL."""
    with pytest.raises(urls.UrlRefused, match="the URL is not valid"):
        urls.check_url("https://\x1cexample.com/hook", allow_private=True)
