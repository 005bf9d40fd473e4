"""Usage reporting to the cloud marketplaces (AWS, Azure, Google Cloud) and marketplace revenue.

Modules:
- catalog:     offering catalog + customer marketplace identities (YAML, validated)
- billable:    hourly billable amounts per customer and marketplace dimension (from the warehouse)
- planning:    what is due per customer, dimension and hour (cumulative delta, exact carry, windows)
- ledger:      the exactly-once reporting ledger (ledger.marketplace_reports in DuckDB)
- aws, azure, google: the marketplace transports (boto3 / REST), contract checks before sending
- reporter:    plan -> ledger -> send -> ledger, the one entry point for a run (report_hours)
- revenue:     marketplace billing/payout feeds -> raw Parquet, listing fees
- parity:      price parity of marketplace dimensions vs the usagebill catalog
"""
