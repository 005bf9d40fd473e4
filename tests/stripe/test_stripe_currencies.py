"""Stripe's minor units per currency (https://docs.stripe.com/currencies) and the billing channel filter."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from exports.stripe.currencies import (
    StripeCurrencyError,
    below_minimum,
    check_chargeable,
    from_stripe_amount,
    stripe_currency,
    table,
    to_stripe_amount,
)
from exports.stripe.source import load_invoices
from usagebill.money import MINOR_UNITS


def test_isk_is_two_decimal_in_stripe_api():
    # docs.stripe.com/currencies#special-cases: ISK is zero-decimal (ISO 4217: 0) but Stripe's API keeps it
    # two-decimal: 15,000 ISK (15000 ISO minor units) -> 15000 x 100 = 1500000; back: 1500000 / 100 = 15000.00
    assert to_stripe_amount(15000, "ISK") == 1500000
    assert from_stripe_amount(1500000, "ISK") == Decimal("15000.00")
    assert stripe_currency("isk").charge_multiple == 100


@pytest.mark.parametrize(
    ("currency", "iso_minor", "stripe_amount"),
    [
        ("JPY", 1234, 1234),  # zero-decimal: 1234 yen = 1234
        ("KRW", 50000, 50000),  # zero-decimal
        ("UGX", 7000, 7000),  # zero-decimal for charges (payouts divisible by 100)
        ("HUF", 123456, 123456),  # two-decimal in the API (1234.56 HUF); payouts divisible by 100
        ("TWD", 9900, 9900),  # two-decimal in the API (99.00 TWD); payouts divisible by 100
        ("USD", 51234, 51234),  # two-decimal
        ("KWD", 5120, 5120),  # three-decimal: 5.120 KWD = 5120
    ],
)
def test_special_cases_convert_as_documented(currency, iso_minor, stripe_amount):
    assert to_stripe_amount(iso_minor, currency) == stripe_amount


def test_payout_multiples_recorded_for_huf_twd_ugx():
    assert {c: stripe_currency(c).payout_multiple for c in ("HUF", "TWD", "UGX")} == {
        "HUF": 100,
        "TWD": 100,
        "UGX": 100,
    }


@pytest.mark.parametrize("currency", ["BHD", "JOD", "KWD", "OMR", "TND"])
def test_three_decimal_payments_need_last_digit_zero(currency):
    check_chargeable(5120, currency, "inv")  # 5.120 is chargeable
    with pytest.raises(StripeCurrencyError, match=r"5\.124 .*multiples of 10"):
        check_chargeable(5124, currency, "inv")  # 5.124 is not


def test_minimum_charge_amounts():
    # docs.stripe.com/currencies#minimum-and-maximum-charge-amounts: USD 0.50, GBP 0.30, JPY 50
    assert below_minimum(49, "USD") and not below_minimum(50, "USD") and not below_minimum(0, "USD")
    assert below_minimum(29, "GBP") and not below_minimum(30, "GBP")
    assert below_minimum(49, "JPY") and not below_minimum(50, "JPY")


def test_table_agrees_with_iso_minor_units_of_the_books():
    for code, iso in MINOR_UNITS.items():
        assert table()[code].iso_minor_unit == iso, code


def test_unknown_currency_names_the_table():
    with pytest.raises(StripeCurrencyError, match="stripe_currency_units.csv"):
        stripe_currency("XYZ")


def _isk_invoice(db, seed):
    seed(db)
    con = duckdb.connect(str(db))
    con.execute(
        "insert into billing.fct_invoices values ('inv_isk', 'UB-0009', 'cust_reyk', null, 'ISK', '2026-10-01', "
        "'2026-11-01', '2026-11-04', '2026-12-04', 15000, 0, 15000, 15000, 'issued')"
    )
    con.execute(
        "insert into billing.fct_invoice_lines values ('inv_isk-1', 'inv_isk', 1, 'gpu', 'usage', 'GPU', 1, "
        "15000, 15000, 15000, null, 0, 'ISK', '2026-10-01', '2026-11-01', 15000, null, null)"
    )
    return con


def test_isk_invoice_goes_to_stripe_as_1500000(target, isolated_env, seed):
    con = _isk_invoice(isolated_env / "usagebill.duckdb", seed)
    summary = target.export(con)
    assert not summary.failed
    stripe_id = con.execute(
        "select stripe_object_id from ledger.stripe_exports where usagebill_id = 'inv_isk' and step = 'finalize'"
        " and status = 'ok'"
    ).fetchall()[0][0]
    inv = target.client().v1.invoices.retrieve(stripe_id)
    assert inv["currency"] == "isk" and inv["total"] == 1500000  # 15,000 ISK
    from exports.stripe.reconciliation import reconcile

    assert reconcile(con, target.api(), progress=lambda m: None).ok  # compared in Stripe's units
    con.close()


def test_three_decimal_invoice_with_nonzero_last_digit_is_refused_before_any_call(con):
    con.execute(
        "insert into billing.fct_invoices values ('inv_kwd', 'UB-0010', 'cust_kw', null, 'KWD', '2026-10-01', "
        "'2026-11-01', '2026-11-04', '2026-12-04', 5.124, 0, 5.124, 5124, 'issued')"
    )
    con.execute(
        "insert into billing.fct_invoice_lines values ('inv_kwd-1', 'inv_kwd', 1, 'gpu', 'usage', 'GPU', 1, "
        "5.124, 5.124, 5124, null, 0, 'KWD', '2026-10-01', '2026-11-01', 5.124, null, null)"
    )
    _, errors, _ = load_invoices(con)
    assert [e[0] for e in errors] == ["inv_kwd"] and "multiples of 10" in errors[0][1]


def test_marketplace_customer_gets_no_stripe_invoice(target, con):
    # the marketplace helper's contract: fct_invoices.billing_channel per subscription
    con.execute("alter table billing.fct_invoices add column billing_channel varchar default 'stripe'")
    con.execute("update billing.fct_invoices set billing_channel = 'aws' where customer_id = 'cust_tokyo'")
    summary = target.export(con)
    assert sorted(summary.sent) == ["inv_a", "inv_c"]  # inv_b (cust_tokyo, AWS) is not sent
    assert summary.not_exportable == {"draft": 1, "channel aws": 1}
    if target.is_fake:
        invoices = target.control("state", method="GET")["objects"]["invoice"].values()
        assert {i["metadata"]["usagebill_customer_id"] for i in invoices} == {"cust_acme"}


def test_marketplace_identity_without_channel_column_blocks_stripe(target, con):
    con.execute("create table staging.stg_marketplace__identities (customer_id varchar, marketplace varchar)")
    con.execute("insert into staging.stg_marketplace__identities values ('cust_acme', 'azure')")
    summary = target.export(con)
    assert summary.sent == ["inv_b"] and summary.not_exportable == {"draft": 1, "channel azure": 2}
