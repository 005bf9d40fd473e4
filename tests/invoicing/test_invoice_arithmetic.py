"""Invoice arithmetic order (docs/invoices.md "Invoice arithmetic"): fees, then discounts/coupons,
then taxes (per rate on the rounded taxable amount), then prepaid credits. Credits are a means of
payment: they never reduce the tax base. Sources: Lago "invoice calculation" (fees -> coupons ->
taxes -> credits); EU VAT Directive 2006/112/EC art. 73 and 79(b) (price discounts reduce the taxable
amount) and art. 226(8)-(10) (taxable amount and VAT per rate on the invoice).

Every expected number is computed by hand in the comments."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from tests.invoicing.conftest import JUNE, MAY, Warehouse, billing_line

FR = "cus_fr"
GRANT = {"grant_id": "g_prepaid", "customer_id": FR, "currency": "EUR", "granted_at": "2026-05-01"}


def worked_example_lines(usage: str = "40") -> list[dict[str, Any]]:
    """The issue's worked check on one invoice (billing date 2026-06-01, issued 2026-06-04):
    June fee 100 (in advance) + May usage 40 (in arrears) + a 20 coupon (May, in arrears)."""
    return [
        billing_line(
            "bl_fee", FR, "EUR", "fee", "Pro plan", "recurring_fee", "in_advance", JUNE, "1", "100", "100"
        ),
        billing_line(
            "bl_use", FR, "EUR", "gpu_ms", "GPU time", "usage", "in_arrears", MAY, usage, "1", usage, seq=2
        ),
        billing_line(
            "bl_coupon", FR, "EUR", "welcome20", "Coupon", "discount", "in_arrears", MAY, "1", None, "-20"
        ),
        # June usage (invoice of 2026-07-01): three lines of 0.03, to show per-rate tax rounding
        *[
            billing_line(
                f"bl_small_{i}",
                FR,
                "EUR",
                f"api_{i}",
                f"API {i}",
                "usage",
                "in_arrears",
                JUNE,
                "3",
                "0.01",
                "0.03",
            )
            for i in (1, 2, 3)
        ],
    ]


FIGURES = (
    "subtotal, discount_total, taxable_amount, tax_amount, total, credits_applied, amount_due, "
    "subtotal_minor, discount_total_minor, taxable_amount_minor, tax_amount_minor, total_minor, "
    "credits_applied_minor, amount_due_minor"
)


@pytest.fixture(scope="module")
def worked(make_warehouse: Callable[[str], Warehouse]) -> Warehouse:
    warehouse = make_warehouse("arithmetic")
    warehouse.write_upstream(worked_example_lines(), [], [{**GRANT, "amount": "50"}])
    warehouse.build_invoicing("2026-07-04")
    return warehouse


def invoice_figures(warehouse: Warehouse, period_start: str) -> tuple[Any, ...]:
    (row,) = warehouse.query(
        f"select {FIGURES} from billing.fct_invoices where customer_id = ? and period_start = ?",
        [FR, period_start],
    )
    return row


def test_worked_example_credits_after_tax(worked: Warehouse) -> None:
    # fee 100 + usage 40 = subtotal 140; coupon 20 -> taxable 120; VAT 20 % -> 24; total 144;
    # prepaid credit 50 applied after tax -> amount due 94 (the credit does not reduce the tax:
    # taxing 140 - 20 - 50 = 70 would give 14 of tax, under-collecting 10)
    assert invoice_figures(worked, "2026-05-01") == (
        D("140"), D("20"), D("120"), D("24"), D("144"), D("50"), D("94"),
        14000, 2000, 12000, 2400, 14400, 5000, 9400,
    )  # fmt: skip


def test_tax_per_rate_on_the_rounded_taxable_amount(worked: Warehouse) -> None:
    # three lines of 0.03 at 20 %: per rate round(0.09 x 0.20 = 0.018) = 0.02 (rounding each line
    # would give 3 x round(0.006) = 0.03); the grant (50) was used up by the first invoice
    assert invoice_figures(worked, "2026-06-01") == (
        D("0.09"), D("0"), D("0.09"), D("0.02"), D("0.11"), D("0"), D("0.11"),
        9, 0, 9, 2, 11, 0, 11,
    )  # fmt: skip
    # line shares by cumulative rounding: round(0.006)=0.01; round(0.012)-0.01=0; round(0.018)-0.01=0.01
    shares = worked.query(
        "select l.tax_amount from billing.fct_invoice_lines l join billing.fct_invoices i using (invoice_id) "
        "where i.customer_id = ? and i.period_start = '2026-06-01' order by l.line_number",
        [FR],
    )
    assert [r[0] for r in shares] == [D("0.01"), D("0"), D("0.01")]
    taxes = worked.query(
        "select t.tax_rate_id, t.taxable_amount, t.tax_amount from billing.fct_invoice_taxes t "
        "join billing.fct_invoices i on t.document_id = i.invoice_id where i.customer_id = ? order by i.period_start",
        [FR],
    )
    assert taxes == [("fr_vat_20", D("120"), D("24")), ("fr_vat_20", D("0.09"), D("0.02"))]


def test_credit_line_is_outside_the_tax_base(worked: Warehouse) -> None:
    # the ledger carries the credit as a line after the charges: amount -50, no tax, no rate
    rows = worked.query(
        "select line_number, line_type, amount, tax_amount, net_amount, gross_amount, tax_rate_id "
        "from billing.fct_issued_lines where customer_id = ? and line_type = 'credit_applied'",
        [FR],
    )
    assert rows == [(4, "credit_applied", D("-50"), D("0"), D("0"), D("0"), None)]
    # it is not a charge line (fct_invoice_lines is the taxable base the Stripe export itemizes)
    assert worked.query(
        "select count(*) from billing.fct_invoice_lines where line_type = 'credit_applied'"
    ) == [(0,)]
    balances = worked.query("select amount_used, balance from billing.fct_credit_balances")
    assert balances == [(D("50"), D("0"))]


def test_late_usage_note_follows_the_same_order(make_warehouse: Callable[[str], Warehouse]) -> None:
    warehouse = make_warehouse("arithmetic_notes")
    grant = [{**GRANT, "amount": "200"}]
    warehouse.write_upstream(worked_example_lines()[:3], [], grant)
    warehouse.build_invoicing("2026-06-04")
    # run 1: taxable 120, tax 24, total 144; the 200 grant pays all of it -> amount due 0
    (first,) = warehouse.query(f"select {FIGURES} from billing.fct_invoices")
    assert first[4:7] == (D("144"), D("144"), D("0"))
    # run 2: May usage restated 40 -> 50: the invoice would now be taxable 130, tax 26, total 156,
    # credits 156. The note carries the difference in the same order: taxable +10, tax +2 (20 %),
    # total +12, credits applied +12 (the grant still holds 56), amount due 0.
    warehouse.write_upstream(worked_example_lines("50")[:3], [], grant)
    warehouse.build_invoicing("2026-06-12")
    notes = warehouse.query(
        "select kind, subtotal, discount_total, taxable_amount, tax_amount, total, amount, credits_applied, "
        "amount_due, amount_minor, credits_applied_minor, amount_due_minor from billing.fct_credit_notes"
    )
    assert notes == [
        ("debit", D("10"), D("0"), D("10"), D("2"), D("12"), D("12"), D("12"), D("0"), 1200, 1200, 0)
    ]
    (after,) = warehouse.query("select total_after_notes, amount_due_after_notes from billing.fct_invoices")
    assert after == (D("156"), D("0"))
    # the grant: 156 used, 44 left
    assert warehouse.query("select amount_used, balance from billing.fct_credit_balances") == [
        (D("156"), D("44"))
    ]
