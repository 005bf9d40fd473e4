"""Stripe webhook endpoint: verify Stripe-Signature, land the event (idempotent by event id).

Signature scheme (docs.stripe.com/webhooks#verify-manually): header `t=<unix ts>,v1=<hex>`; the signed
payload is `<t>.<raw body>`, HMAC-SHA256 with the endpoint secret (whsec_...). Verification uses the SDK's
stripe.WebhookSignature.verify_header with a 300 s tolerance: bad or missing signatures and timestamps older
than the tolerance are rejected with 400 (Stripe then retries the delivery; the polling fallback also covers
it). Secret from env STRIPE_WEBHOOK_SECRET.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

from exports.local_servers import run_until_interrupted
from exports.stripe.events import EventError, EventStore

DEFAULT_TOLERANCE_SECONDS = 300
WEBHOOK_PATH = "/stripe/webhook"


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for `payload` (used by the fake and by tests)."""
    ts = int(time.time()) if timestamp is None else timestamp
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={sig}"


def verify_event(
    payload: bytes, sig_header: str | None, secret: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> dict[str, Any]:
    """Verify with the SDK, then return the event as a plain dict. Raises stripe.SignatureVerificationError."""
    if not sig_header:
        raise stripe.SignatureVerificationError("No Stripe-Signature header", sig_header, payload)
    stripe.WebhookSignature.verify_header(payload.decode("utf-8"), sig_header, secret, tolerance)
    return json.loads(payload)


class _Handler(BaseHTTPRequestHandler):
    server: _WebhookServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != WEBHOOK_PATH:
            return self._reply(404, {"error": f"POST Stripe events to {WEBHOOK_PATH}"})
        payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            event = verify_event(
                payload, self.headers.get("Stripe-Signature"), self.server.secret, self.server.tolerance
            )
            result = self.server.store.land([event], source="webhook")
        except stripe.SignatureVerificationError as e:
            self.server.rejected += 1
            return self._reply(400, {"error": f"signature verification failed: {e}"})
        except (EventError, ValueError) as e:
            self.server.rejected += 1
            return self._reply(400, {"error": f"not a Stripe event: {e}"})
        return self._reply(200, {"received": True, "duplicate": result.duplicate == 1})


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    secret: str
    tolerance: int
    store: EventStore
    rejected: int = 0


def serve_webhooks(
    secret: str,
    store: EventStore | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> tuple[ThreadingHTTPServer, str]:
    """Start the endpoint in a background thread; returns (server, url of the webhook path)."""
    if not secret:
        raise ValueError("a webhook signing secret is required (env STRIPE_WEBHOOK_SECRET, whsec_...)")
    server = _WebhookServer((host, port), _Handler)
    server.secret, server.tolerance, server.store = secret, tolerance, store or EventStore()
    threading.Thread(target=server.serve_forever, name="stripe-webhooks", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}{WEBHOOK_PATH}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="usagebill stripe webhooks", description="Run the Stripe webhook endpoint."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    args = parser.parse_args(argv)
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        print(
            "STRIPE_WEBHOOK_SECRET is not set: copy the endpoint's signing secret (whsec_...) from the Stripe "
            "dashboard or `stripe listen` into it",
            file=sys.stderr,
        )
        return 2
    server, url = serve_webhooks(secret, host=args.host, port=args.port)
    return run_until_interrupted(
        server, f"Stripe webhook endpoint on {url}; events land in {server.store.root}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
