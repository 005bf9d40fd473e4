"""Stripe export and payments: invoices from the warehouse to Stripe exactly once, payment events back.

Modules: settings (env -> client), source (read marts), ledger (ledger.stripe_* tables), api (SDK calls
with retries), exporter (the exactly-once invoice/credit-note export), reconciliation, events (land
payment events as Parquet), webhooks (signed endpoint), polling (/v1/events fallback).
"""
