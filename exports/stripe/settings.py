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

    @classmethod
    def from_env(cls) -> StripeSettings:
        return cls(
            api_key=os.environ.get("STRIPE_API_KEY") or None,
            api_base=os.environ.get("STRIPE_API_BASE") or None,
            webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
            allow_live=os.environ.get("STRIPE_ALLOW_LIVE") == "1",
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


def make_client(settings: StripeSettings) -> stripe.StripeClient:
    """The official SDK client. SDK retries are off (max_network_retries=0): exports.stripe.api retries
    429/5xx/connection errors itself with the same idempotency key, so retries never multiply."""
    settings.validate()
    if not settings.api_key:
        raise StripeConfigError("no STRIPE_API_KEY: cannot build a Stripe client (dry run needs no client)")
    base = {"api": settings.api_base} if settings.api_base else None
    return stripe.StripeClient(settings.api_key, base_addresses=base, max_network_retries=0)
