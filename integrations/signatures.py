"""Webhook signature schemes. Pure functions: the caller supplies the clock."""

import base64
import hashlib
import hmac

# Calendly and HubSpot sign a timestamp; older signatures are replays and are refused.
TOLERANCE_SECONDS = 5 * 60


def calendly_valid(*, header: str, body: bytes, secret: str, now: float) -> bool:
    """``Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.<raw body>">``."""
    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, signature = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not signature:
        return False
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def hubspot_v3_valid(
    *, signature: str, timestamp_ms: str, method: str, uri: str, body: bytes, secret: str, now: float
) -> bool:
    """``X-HubSpot-Signature-v3``: base64 HMAC-SHA256 of method + URI + body + timestamp (ms)."""
    if not timestamp_ms.isdigit() or not signature:
        return False
    if abs(now - int(timestamp_ms) / 1000) > TOLERANCE_SECONDS:
        return False
    message = method.encode() + uri.encode() + body + timestamp_ms.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


def intercom_valid(*, header: str, body: bytes, secret: str) -> bool:
    """``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>``."""
    scheme, _, signature = header.partition("=")
    if scheme != "sha1" or not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, signature)
