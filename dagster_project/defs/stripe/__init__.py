"""Stripe: invoices out (exactly once), payment events back, reconciliation.

Assets
- ["exports", "stripe_invoices"]: issued invoices, debit notes and credit notes from
  ["billing", "fct_invoices"] / ["billing", "fct_credit_notes"] to Stripe, exactly once through the
  ledger ledger.stripe_exports (exports/stripe/exporter.py). Refuses (fails) while the last
  reconciliation has mismatches, unless STRIPE_IGNORE_RECONCILIATION=1.
  Modes, from the environment when Dagster starts:
    STRIPE_API_KEY and STRIPE_API_BASE unset -> DRY RUN: nothing is sent, the planned calls are written to
      USAGEBILL_REPORTS_DIR/stripe/planned_calls_<time>.jsonl and the ledger is not touched;
    STRIPE_API_BASE=http://127.0.0.1:PORT + STRIPE_API_KEY=sk_test_... -> the local fake (make demo);
    STRIPE_API_KEY=sk_test_... alone -> Stripe test mode (live keys need STRIPE_ALLOW_LIVE=1).
- ["raw", "stripe_events"]: polls /v1/events (the webhook fallback) and lands new payment events as
  Parquet (dbt source raw.stripe_events -> staging/stripe -> marts/payments). Skipped in dry run.
Asset check `stripe_reconciliation` on ["exports", "stripe_invoices"] (blocking): warehouse totals ==
Stripe totals for every exported invoice; results in ledger.stripe_reconciliation.
"""

import os
from typing import Optional

import dagster as dg

from dagster_project import flow

STRIPE_INVOICES = dg.AssetKey(["exports", "stripe_invoices"])
STRIPE_EVENTS = dg.AssetKey(["raw", "stripe_events"])
FCT_INVOICES = dg.AssetKey(["billing", "fct_invoices"])
FCT_CREDIT_NOTES = dg.AssetKey(["billing", "fct_credit_notes"])


class StripeResource(dg.ConfigurableResource):
    """Stripe connection settings. Secrets come from environment variables (dg.EnvVar); unset = None."""

    api_key: Optional[str] = None  # noqa: UP045 - dagster config types need Optional
    api_base: Optional[str] = None  # noqa: UP045
    ignore_reconciliation: bool = False

    def settings(self):  # -> exports.stripe.settings.StripeSettings
        from exports.stripe.settings import StripeSettings

        env = StripeSettings.from_env()  # rate limit and concurrency (STRIPE_RATE_LIMIT, STRIPE_CONCURRENCY)
        return StripeSettings(
            api_key=self.api_key,
            api_base=self.api_base,
            allow_live=os.environ.get("STRIPE_ALLOW_LIVE") == "1",
            rate_limit=env.rate_limit,
            workers=env.workers,
        )

    def api(self):  # -> exports.stripe.api.StripeApi
        from exports.stripe.api import StripeApi
        from exports.stripe.settings import make_client

        settings = self.settings()
        return StripeApi(make_client(settings), rate_limit=settings.requests_per_second)


def _env(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


@dg.asset(
    key=STRIPE_INVOICES,
    deps=[FCT_INVOICES, FCT_CREDIT_NOTES],
    group_name=flow.PAY,
    description="Issued invoices, debit and credit notes sent to Stripe exactly once (ledger.stripe_exports). "
    "Dry run (planned calls only) when STRIPE_API_KEY and STRIPE_API_BASE are unset.",
)
def stripe_invoices(context: dg.AssetExecutionContext, stripe_api: StripeResource) -> dg.MaterializeResult:
    from exports.stripe.exporter import ReconciliationBlocked, run_export
    from exports.stripe.settings import DRY_RUN

    settings = stripe_api.settings()
    context.log.info(f"Stripe export: {settings.describe()}")
    try:
        summary = run_export(
            settings=settings,
            override_reconciliation=stripe_api.ignore_reconciliation,
            progress=context.log.info,
        )
    except ReconciliationBlocked as e:
        raise dg.Failure(description=str(e)) from e
    for line in summary.lines():
        (context.log.warning if "FAILED" in line else context.log.info)(line)
    metadata: dict[str, object] = {
        "mode": "dry run (nothing sent)" if settings.mode == DRY_RUN else settings.mode,
        "sent": len(summary.sent),
        "skipped_already_exported": len(summary.skipped),
        "failed": len(summary.failed),
        "blocked_by_reconciliation": len(summary.blocked),
        "api_calls": summary.api_calls,
        "calls_per_second": round(summary.calls_per_second, 1),
        "retries": summary.retries,
        "rate_limited_429": summary.rate_limited,
        "run_id": summary.run_id,
    }
    if summary.blocked:
        metadata["blocked"] = dg.MetadataValue.md(
            "\n".join(f"- `{obj}`: {reason}" for obj, reason in summary.blocked[:50])
        )
    if summary.failed:
        metadata["failures"] = dg.MetadataValue.md(
            "\n".join(f"- `{obj}`: {reason}" for obj, reason in summary.failed[:50])
        )
    if summary.planned_calls_file:
        metadata["planned_calls_file"] = dg.MetadataValue.path(summary.planned_calls_file)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=STRIPE_INVOICES,
    name="stripe_reconciliation",
    blocking=True,
    description="Every exported invoice's total, lines, amount due, currency, status and credit notes equal "
    "Stripe's, and Stripe has no invoice with our metadata that the ledger does not know.",
)
def stripe_reconciliation(
    context: dg.AssetCheckExecutionContext, stripe_api: StripeResource
) -> dg.AssetCheckResult:
    import duckdb

    from exports.stripe.reconciliation import reconcile
    from exports.stripe.settings import DRY_RUN
    from usagebill import paths

    if stripe_api.settings().mode == DRY_RUN:
        return dg.AssetCheckResult(passed=True, metadata={"skipped": "dry run: no Stripe to reconcile with"})
    con = duckdb.connect(str(paths.warehouse_path()))
    try:
        result = reconcile(con, stripe_api.api(), progress=context.log.info)
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed=result.ok,
        metadata={
            "checked": result.checked,
            "mismatches": len(result.mismatches),
            "not_exported": result.not_exported,
            "report": dg.MetadataValue.md("\n".join(result.lines())),
        },
    )


@dg.asset(
    key=STRIPE_EVENTS,
    deps=[STRIPE_INVOICES],
    group_name=flow.PAY,
    description="Stripe payment events polled from /v1/events (webhook fallback), one Parquet file per event id "
    "under USAGEBILL_RAW_DIR/stripe_events/.",
)
def stripe_events(context: dg.AssetExecutionContext, stripe_api: StripeResource) -> dg.MaterializeResult:
    from exports.stripe.events import EventStore
    from exports.stripe.polling import poll_events
    from exports.stripe.settings import DRY_RUN

    store = EventStore()
    if stripe_api.settings().mode == DRY_RUN:
        context.log.info(
            "STRIPE_API_KEY is unset: no Stripe to poll; the payments marts use the events already "
            f"landed in {store.root} ({store.count()} files)"
        )
        return dg.MaterializeResult(
            metadata={"skipped": "dry run: STRIPE_API_KEY unset", "events": store.count()}
        )
    summary = poll_events(stripe_api.api(), store)
    context.log.info(summary.line())
    return dg.MaterializeResult(
        metadata={
            "fetched": summary.fetched,
            "new": summary.new,
            "already_landed": summary.duplicate,
            "events": store.count(),
        }
    )


defs = dg.Definitions(
    assets=[stripe_invoices, stripe_events],
    asset_checks=[stripe_reconciliation],
    resources={
        "stripe_api": StripeResource(
            api_key=_env("STRIPE_API_KEY"),
            api_base=_env("STRIPE_API_BASE"),
            ignore_reconciliation=os.environ.get("STRIPE_IGNORE_RECONCILIATION") == "1",
        )
    },
)
