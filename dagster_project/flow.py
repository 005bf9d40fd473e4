"""The steps of the billing flow, as Dagster asset groups.

Every asset belongs to one of these groups, named after the step of the flow it serves
(product brief, "The flow"), so the global lineage in the Dagster UI reads left to right from
the sources to the exports. dbt models get their group from their folder (dbt_project.yml,
``+meta: {dagster: {group: ...}}``); a model that serves another step than its folder says so
in its own ``config(meta=...)``. Python assets name their group with these constants.
"""

from __future__ import annotations

# Group name -> what the step does (shown in docs/architecture.md and checked by tests).
FLOW_GROUPS: dict[str, str] = {
    "catalog": "Pricing catalog: meters, plans, prices, customers, subscriptions, tax rates and the "
    "marketplace offering catalog, validated from YAML (and bulk files) into the raw layer and staged.",
    "collect": "Measure and collect usage: landing files from the collector and SDKs, SQL, datastore "
    "and infrastructure sources, validated into raw/usage_events with bad events quarantined.",
    "journal": "Persist: the append-only, de-duplicated usage journal partitioned by day, and the "
    "audit of every event that did not reach it.",
    "aggregate": "Aggregate: hourly, daily and monthly usage rollups per tenant, customer, meter and "
    "dimensions.",
    "rate": "Rate: price every subscription period (fees, usage, tiers, discounts, commitments, "
    "credits) into billing lines.",
    "invoice": "Invoice: assign lines to invoices, apply tax, number and issue invoices and credit "
    "notes, and render the HTML/PDF documents.",
    "pay": "Pay: export invoices to Stripe exactly once, load payment events back, and follow "
    "payments, dunning and receivables.",
    "marketplaces": "Cloud marketplaces: report usage to AWS, Azure and Google exactly once, load "
    "their billing feeds, and consolidate marketplace revenue and fees.",
    "analytics": "Analytics: MRR, ARR, movements, cohorts, revenue recognition, projection, cost, "
    "unit cost and margins.",
    "reports": "Reports for people: the executive report and the pricing lab.",
}

CATALOG = "catalog"
COLLECT = "collect"
JOURNAL = "journal"
AGGREGATE = "aggregate"
RATE = "rate"
INVOICE = "invoice"
PAY = "pay"
MARKETPLACES = "marketplaces"
ANALYTICS = "analytics"
REPORTS = "reports"
