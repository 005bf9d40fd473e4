"""`usagebill stripe <command>`: export | reconcile | poll | webhooks | fake.

export      send issued invoices / notes to Stripe exactly once (dry run when no STRIPE_API_KEY/BASE)
reconcile   compare exported invoices with Stripe, write ledger.stripe_reconciliation
poll        land new payment events from /v1/events (webhook fallback)
webhooks    run the signed webhook endpoint (STRIPE_WEBHOOK_SECRET)
fake        run the local Stripe fake (for the demo and tests)
"""

from __future__ import annotations

import sys

import duckdb

from exports.stripe.settings import DRY_RUN, StripeSettings, make_client
from usagebill import paths


def _api():
    from exports.stripe.api import StripeApi

    settings = StripeSettings.from_env()
    if settings.mode == DRY_RUN:
        print(
            "STRIPE_API_KEY is not set: nothing to talk to. Set STRIPE_API_KEY=sk_test_... (and STRIPE_API_BASE "
            "to use the local fake)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    print(f"stripe: {settings.describe()}", file=sys.stderr)
    return StripeApi(make_client(settings))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "export":
        from exports.stripe.exporter import main as export_main

        return export_main(rest)
    if command == "reconcile":
        from exports.stripe.reconciliation import reconcile

        con = duckdb.connect(str(paths.warehouse_path()))
        try:
            result = reconcile(con, _api())
        finally:
            con.close()
        print("\n".join(result.lines()))
        return 0 if result.ok else 1
    if command == "poll":
        from exports.stripe.polling import poll_events

        print(poll_events(_api()).line())
        return 0
    if command == "webhooks":
        from exports.stripe.webhooks import main as webhooks_main

        return webhooks_main(rest)
    if command == "fake":
        from exports.fakes.stripe_server import main as fake_main

        return fake_main(rest)
    print(f"unknown stripe command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
