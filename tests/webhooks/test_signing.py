"""`Csroi-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (SPEC §11)."""

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from app.webhooks import signing


def test_a_worked_example() -> None:
    body = b'{"id":"evt_1","type":"revenue.churned","created":"2026-11-30T09:00:00Z","data":{"currency":"USD"}}'
    # HMAC-SHA256 with key "whsec_test" over "1764493200." followed by the body, in hex.
    expected = hmac.new(b"whsec_test", b"1764493200." + body, hashlib.sha256).hexdigest()
    assert signing.header("whsec_test", 1764493200, body) == f"t=1764493200,v1={expected}"
    assert len(expected) == 64


def test_generated_secrets_are_long_and_distinct() -> None:
    secrets = {signing.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) == 49 for s in secrets)


class TestVerify:
    BODY = b'{"id":"evt_1"}'

    def test_accepts_its_own_header(self) -> None:
        assert signing.verify("k" * 20, signing.header("k" * 20, 1000, self.BODY), self.BODY, now=1100)

    def test_refuses_another_secret_a_changed_body_an_old_timestamp_and_garbage(self) -> None:
        header = signing.header("k" * 20, 1000, self.BODY)
        assert not signing.verify("j" * 20, header, self.BODY, now=1000)
        assert not signing.verify("k" * 20, header, self.BODY + b" ", now=1000)
        assert not signing.verify("k" * 20, header, self.BODY, now=1000 + 301)
        assert not signing.verify("k" * 20, "v1=abc", self.BODY, now=1000)
        assert not signing.verify("k" * 20, "t=soon,v1=abc", self.BODY, now=1000)

    @given(secret=st.text(min_size=16, max_size=80), body=st.binary(max_size=300), t=st.integers(0, 2**33))
    def test_any_signed_body_verifies_and_any_changed_byte_does_not(self, secret: str, body: bytes, t: int) -> None:
        header = signing.header(secret, t, body)
        assert signing.verify(secret, header, body, now=t)
        for i in range(min(len(body), 8)):
            changed = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
            assert not signing.verify(secret, header, changed, now=t)
