"""Contract-faithful fakes of external APIs, written from their public documentation.

Each fake is a real HTTP server on 127.0.0.1 so the official SDKs talk to it over the wire
(stripe_server: the Stripe API subset usagebill uses). Tests and `make demo` start them.
"""
