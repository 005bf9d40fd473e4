"""Stripe settings from the environment. Secrets come only from env vars and are never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass

import stripe

DRY_RUN, FAKE_OR_CUSTOM, TEST_MODE, LIVE_MODE = "dry_run", "custom_base", "test_mode", "live_mode"


class StripeConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class StripeSettings:
    api_key: str | None
    api_base: str | None
    webhook_secret: str | None = None
    allow_live: bool = False
    rate_limit: float | None = None  # requests/s; None = Stripe's documented limit for the mode
    workers: int = 4

    @property
    def requests_per_second(self) -> float:
        """STRIPE_RATE_LIMIT, else Stripe's documented limits (https://docs.stripe.com/rate-limits): 100/s in
        live mode, 25/s in test mode (and against the local fake)."""
        if self.rate_limit:
            return self.rate_limit
        return 100.0 if self.mode == LIVE_MODE else 25.0

    @classmethod
    def from_env(cls) -> StripeSettings:
        return cls(
            api_key=os.environ.get("STRIPE_API_KEY") or None,
            api_base=os.environ.get("STRIPE_API_BASE") or None,
            webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
            allow_live=os.environ.get("STRIPE_ALLOW_LIVE") == "1",
            rate_limit=_positive(os.environ.get("STRIPE_RATE_LIMIT"), "STRIPE_RATE_LIMIT"),
            workers=int(_positive(os.environ.get("STRIPE_CONCURRENCY"), "STRIPE_CONCURRENCY") or 4),
        )

    @property
    def mode(self) -> str:
        if not self.api_key and not self.api_base:
            return DRY_RUN
        if self.api_base:
            return FAKE_OR_CUSTOM
        return LIVE_MODE if "_live_" in (self.api_key or "") else TEST_MODE

    def describe(self) -> str:
        """One line for logs: where calls go. Shows only the key's mode prefix, never the key."""
        mode = self.mode
        if mode == DRY_RUN:
            return (
                "dry run: STRIPE_API_KEY and STRIPE_API_BASE are unset, so no call is sent; the planned calls "
                "are written to a JSONL file (set STRIPE_API_KEY=sk_test_... to send to Stripe test mode)"
            )
        prefix = (self.api_key or "")[:8]
        where = self.api_base or "https://api.stripe.com (real Stripe)"
        return f"sending to {where} with a {prefix}... key"

    def validate(self) -> None:
        if self.mode == DRY_RUN:
            return
        if not self.api_key:
            raise StripeConfigError(
                f"STRIPE_API_BASE is set ({self.api_base}) but STRIPE_API_KEY is not: set STRIPE_API_KEY "
                "(any sk_test_... key works against the local fake)"
            )
        if "_live_" in self.api_key and not self.allow_live:
            raise StripeConfigError(
                "STRIPE_API_KEY is a live key: refusing to send invoices to live Stripe unless STRIPE_ALLOW_LIVE=1"
            )


def _positive(raw: str | None, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise StripeConfigError(
            f"{name}={raw!r} is not a number: set a positive number or unset it"
        ) from None
    if not 0 < value <= 10_000:
        raise StripeConfigError(f"{name}={raw!r} must be > 0 and <= 10000")
    return value


def make_client(settings: StripeSettings) -> stripe.StripeClient:
    """The official SDK client. SDK retries are off (max_network_retries=0): exports.stripe.api retries
    429/5xx/connection errors itself with the same idempotency key, so retries never multiply."""
    settings.validate()
    if not settings.api_key:
        raise StripeConfigError("no STRIPE_API_KEY: cannot build a Stripe client (dry run needs no client)")
    base = {"api": settings.api_base} if settings.api_base else None
    return stripe.StripeClient(settings.api_key, base_addresses=base, max_network_retries=0)
