"""Offering catalog validation (errors name file + path) and revenue fees computed by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from exports.marketplace.catalog import MarketplaceCatalogError, load_identities, load_offerings
from exports.marketplace.fx import load_fx_rates
from exports.marketplace.revenue import listing_fee, load_revenue_feeds, write_catalog_tables

EXAMPLES = Path(__file__).resolve().parents[2] / "usagebill" / "marketplace_examples"


def test_example_catalog_loads_and_maps_every_marketplace():
    catalog = load_offerings(EXAMPLES / "marketplace_offerings.yaml")
    identities = load_identities(catalog, EXAMPLES / "marketplace_customers.yaml")
    assert {listing.marketplace for listing in catalog.listings} == {"aws", "azure", "google"}
    assert catalog.listing("aws", "gpu_cloud").dimensions[0].unit_price == Decimal("0.01")
    assert {i.marketplace for i in identities} == {"aws", "azure", "google"}


def test_float_price_and_bad_identity_are_reported_with_file_and_path(tmp_path):
    offerings = tmp_path / "marketplace_offerings.yaml"
    offerings.write_text(
        (EXAMPLES / "marketplace_offerings.yaml")
        .read_text()
        .replace('unit_price: "0.50"', "unit_price: 0.50", 1)
    )
    with pytest.raises(MarketplaceCatalogError) as err:
        load_offerings(offerings)
    assert (
        f"{offerings}: offerings[0].marketplaces.aws.dimensions[1].unit_price: must be a decimal string"
        in str(err.value)
    )

    catalog = load_offerings(EXAMPLES / "marketplace_offerings.yaml")
    customers = tmp_path / "marketplace_customers.yaml"
    customers.write_text("""
customers:
  - customer_id: cus_x
    aws:
      offering: gpu_cloud
      account_id: "1234"
      customer_identifier: Legacy
      states: [{state: active, since: 2026-05-01}]
""")
    with pytest.raises(MarketplaceCatalogError) as err:
        load_identities(catalog, customers)
    problems = err.value.problems
    assert (
        f"{customers}: customers[0].aws.account_id: '1234' does not match a 12-digit AWS account id "
        "(quote it)" in problems
    )
    assert (
        f"{customers}: customers[0].aws.states[0].state: must be one of subscribed, unsubscribed, "
        "suspended, got 'active'" in problems
    )


def test_azure_fee_100_billed_pays_out_97():
    # Azure docs: 3% store service fee; $100.00 billed pays out $97.00.
    split = listing_fee(Decimal("100.00"), Decimal("3"), "USD")
    assert (split.fee, split.payout) == (Decimal("3.00"), Decimal("97.00"))
    # rounding once, half-up: 3% of $0.50 = $0.015 -> $0.02 fee, $0.48 payout
    split = listing_fee(Decimal("0.50"), Decimal("3"), "USD")
    assert (split.fee, split.payout) == (Decimal("0.02"), Decimal("0.48"))
    # AWS private offer $1-10M tier: 2% of $2,500,000.00 = $50,000.00
    assert listing_fee(Decimal("2500000.00"), Decimal("2"), "USD").fee == Decimal("50000.00")


def test_feeds_and_catalog_written_as_raw_parquet_with_quarantine(tmp_path):
    bad = tmp_path / "azure_transactions.csv"
    bad.write_text(
        "transaction_id,resource_id,offer_id,plan_id,transaction_date,billed_amount,currency\n"
        "az-1,r,o,p,2026-06-01,100.00,USD\n"
        "az-2,r,o,p,2026-06-01,12.3.4,USD\n"
    )
    counts = load_revenue_feeds(
        {"aws_billing_events": [EXAMPLES / "aws_billing_events.csv"], "azure_transactions": [bad]},
        tmp_path / "raw",
    )
    assert counts == {
        "aws_billing_events": 10,
        "azure_transactions": 1,
        "google_usage_reports": 0,
        "quarantined": 1,
    }
    quarantine = pq.read_table(tmp_path / "raw" / "feed_quarantine" / "data.parquet").to_pylist()
    assert quarantine[0]["field"] == "billed_amount" and ":3:" in quarantine[0]["reason"]
    catalog = load_offerings(EXAMPLES / "marketplace_offerings.yaml")
    identities = load_identities(catalog, EXAMPLES / "marketplace_customers.yaml")
    fx = load_fx_rates(EXAMPLES / "marketplace_fx_rates.csv")
    written = write_catalog_tables(catalog, identities, tmp_path / "raw", fx=fx)
    # 3 aws + 2 azure + 2 google dimensions x 1 plan; identity state periods:
    # cus_0002 1 + cus_0005 3 + cus_0003 1 + cus_0004 2 + cus_0006 1 + cus_0007 1 + cus_a 1 + cus_b 1 = 11;
    # rates: EUR->USD x2, GBP->USD, JPY->USD = 4
    assert written == {"dimensions": 7, "fees": 3, "identities": 11, "fx_rates": 4}
