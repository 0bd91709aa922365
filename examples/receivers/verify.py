"""Verify one linkwire webhook delivery (Python 3.11+, standard library only).

    LINKWIRE_SECRET=whsec_... python3 verify.py <body-file> <headers-file> [--now <unix-seconds>]

<body-file> holds the raw request body exactly as received; <headers-file> one "Name: value"
per line. LINKWIRE_SECRET may hold several whitespace-separated secrets (rotation).
Prints "ok <event id>" and exits 0, or "invalid: <reason>" and exits 1 (usage errors exit 2).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from typing import NoReturn

TOLERANCE_SECS = 300


def invalid(reason: str) -> NoReturn:
    print(f"invalid: {reason}")
    sys.exit(1)


def check_timestamp(headers: dict[str, str], name: str, now: int) -> str:
    ts = headers.get(name, "")
    if not (ts.isascii() and ts.isdigit()):
        invalid(f"missing or malformed {name}")
    if abs(now - int(ts)) > TOLERANCE_SECS:
        invalid(f"{name} {ts} is outside the {TOLERANCE_SECS}s tolerance")
    return ts


def decoded(values: list[str], decode) -> list[bytes]:
    """Decodes each value, skipping those that do not decode."""
    out = []
    for value in values:
        try:
            out.append(decode(value))
        except ValueError:  # binascii.Error is a ValueError
            pass
    return out


def any_match(received: list[bytes], keys: list[bytes], msg: bytes) -> bool:
    """True if any received signature equals the HMAC for any key (constant-time compare)."""
    expected = [hmac.new(key, msg, hashlib.sha256).digest() for key in keys]
    return any(hmac.compare_digest(sig, exp) for sig in received for exp in expected)


def main() -> None:
    parser = argparse.ArgumentParser(description="Verify a captured linkwire webhook delivery.")
    parser.add_argument("body_file")
    parser.add_argument("headers_file")
    parser.add_argument("--now", type=int, default=int(time.time()), help="Unix seconds to check against")
    args = parser.parse_args()
    secrets = os.environ.get("LINKWIRE_SECRET", "").split()
    if not secrets:
        parser.error("LINKWIRE_SECRET is not set")
    with open(args.body_file, "rb") as f:
        body = f.read()  # the raw bytes, never re-serialized JSON
    headers: dict[str, str] = {}
    with open(args.headers_file, encoding="utf-8") as f:
        for name, sep, value in (line.partition(":") for line in f):
            if sep and name.strip():
                headers.setdefault(name.strip().lower(), value.strip())

    nim_sig, std_sig = headers.get("x-nim-signature"), headers.get("webhook-signature")
    if nim_sig is None and std_sig is None:
        invalid("no signature header")
    if nim_sig is not None:
        # X-Nim-Signature: v1=<hex>[,v1=<hex>...]; key = the whole "whsec_..." string.
        ts = check_timestamp(headers, "x-nim-timestamp", args.now)
        sigs = decoded([e.strip()[3:] for e in nim_sig.split(",") if e.strip().startswith("v1=")], bytes.fromhex)
        if not any_match(sigs, [s.encode() for s in secrets], f"{ts}.".encode() + body):
            invalid("X-Nim-Signature does not match")
    if std_sig is not None:
        # webhook-signature: v1,<base64>[ v1,<base64>...]; key = base64-decoded part after "whsec_".
        msg_id = headers.get("webhook-id") or invalid("missing webhook-id")
        ts = check_timestamp(headers, "webhook-timestamp", args.now)
        b64 = lambda v: base64.b64decode(v, validate=True)  # noqa: E731
        sigs = decoded([e[3:] for e in std_sig.split(" ") if e.startswith("v1,")], b64)
        keys = decoded([s.removeprefix("whsec_") for s in secrets], b64)
        if not any_match(sigs, keys, f"{msg_id}.{ts}.".encode() + body):
            invalid("webhook-signature does not match")

    # Only now parse the JSON. The event id is stable across retries and replays: dedupe on it.
    event_id = json.loads(body)["id"]
    for name in ("x-nim-event-id", "webhook-id"):
        if name in headers and headers[name] != event_id:
            invalid(f"{name} does not match the body id")
    print(f"ok {event_id}")


if __name__ == "__main__":
    main()
