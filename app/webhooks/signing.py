"""The `Csroi-Signature` header (SPEC §11): `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

The timestamp is inside the signed text, so a receiver that refuses old timestamps also refuses replays; the README
shows a receiver's check in ten lines. `verify` is that check, used by the tests and the benchmark's receiver.
"""

import hashlib
import hmac
import secrets

HEADER = "Csroi-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of generated secrets, not a secret
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A generated signing secret: `whsec_` and 32 random bytes, URL-safe base64 (43 characters)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a delivery carries."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, value: str, body: bytes, *, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """True when `value` is a header made with `secret` over `body` at most `tolerance` seconds before `now`."""
    parts = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
