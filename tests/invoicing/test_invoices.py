"""Invoices, tax, gapless numbering, immutability and late-usage notes on hand-computed inputs.

One isolated warehouse (conftest.py), the invoicing dbt models run three times:
- run 1, as of 2026-06-04: May closes (billing date 2026-06-01 + 3 grace days) -> 7 invoices;
- run 2, as of 2026-07-04: June closes -> 1 new invoice; a late May API-calls event (arrived
  2026-06-10) and a restated French line produce one debit note and one credit note;
- run 3, as of 2026-07-04 again: nothing new (idempotent).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

pytestmark = pytest.mark.slow

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient, Art. 196 Council Directive 2006/112/EC"
)


def invoice(scenario, customer: str, issue_date: str) -> dict:
    rows = scenario.warehouse.query(
        """select invoice_id, invoice_number, subtotal, tax_amount, total, total_minor, due_date,
                  period_start, period_end, is_reverse_charge, status
           from billing.fct_invoices where customer_id = ? and issue_date = ?""",
        [customer, issue_date],
    )
    assert len(rows) == 1, f"expected one invoice for {customer} issued {issue_date}, got {rows}"
    keys = (
        "invoice_id",
        "number",
        "subtotal",
        "tax",
        "total",
        "total_minor",
        "due_date",
        "period_start",
        "period_end",
        "reverse_charge",
        "status",
    )
    return dict(zip(keys, rows[0], strict=True))


def lines(scenario, invoice_id: str) -> list[tuple]:
    return scenario.warehouse.query(
        """select line_number, line_type, billing_line_id, amount, amount_minor, tax_rate_id, tax_amount
           from billing.fct_invoice_lines where invoice_id = ? order by line_number""",
        [invoice_id],
    )


def test_starter_customer_fee_in_advance_plus_overage(credit_note_scenario) -> None:
    first = invoice(credit_note_scenario, "cus_us", "2026-05-04")
    # first invoice: May's fee in advance, billed on its start 2026-05-01, closes 3 days later
    assert (first["total"], first["total_minor"], first["number"]) == (D("500"), 50000, "UB-2026-000001")
    may = invoice(credit_note_scenario, "cus_us", "2026-06-04")
    # June fee (in advance) 500.00 + May usage: GPU included 0.00 + overage 10,000 x 1K ms x 0.009 = 90.00
    # + 12,345 API calls x 0.50/1K = 6.1725 -> 6.17 + 250 x 0.0005 = 0.125 -> 0.13 (half-up)
    # = 596.30; US customer of a French seller: out of scope, 0 tax
    assert (may["subtotal"], may["tax"], may["total"], may["total_minor"]) == (
        D("596.30"),
        0,
        D("596.30"),
        59630,
    )
    assert may["due_date"] == date(2026, 7, 4)  # 2026-06-04 + 30 days
    assert (may["period_start"], may["period_end"]) == (date(2026, 5, 1), date(2026, 7, 1))
    assert [(n, t, b, a) for n, t, b, a, *_ in lines(credit_note_scenario, may["invoice_id"])] == [
        (1, "recurring_fee", "bl_us_fee_jun", D("500")),
        (2, "usage", "bl_us_gpu_incl_may", D("0")),
        (3, "usage", "bl_us_gpu_over_may", D("90")),
        (4, "usage", "bl_us_api_may", D("6.17")),
        (5, "usage", "bl_us_api_half_may", D("0.13")),
    ]


def test_german_business_from_french_seller_is_reverse_charged(credit_note_scenario) -> None:
    de = invoice(credit_note_scenario, "cus_de", "2026-06-04")
    assert (de["subtotal"], de["tax"], de["total"], de["reverse_charge"]) == (D("1000"), 0, D("1000"), True)
    assert [(r[5], r[6]) for r in lines(credit_note_scenario, de["invoice_id"])] == [("reverse_charge", 0)]
    notes = credit_note_scenario.warehouse.query(
        "select distinct tax_note from billing.fct_invoice_taxes where document_id = ?", [de["invoice_id"]]
    )
    assert notes == [(REVERSE_CHARGE_NOTE,)]


def test_domestic_customer_pays_20_percent_exclusive(credit_note_scenario) -> None:
    fr = invoice(credit_note_scenario, "cus_fr", "2026-06-04")
    # 250.00 + 20 % = 250.00 + 50.00 = 300.00
    assert (fr["subtotal"], fr["tax"], fr["total"], fr["total_minor"]) == (D("250"), D("50"), D("300"), 30000)


def test_inclusive_tax_splits_the_gross_amount(credit_note_scenario) -> None:
    gb = invoice(credit_note_scenario, "cus_gb", "2026-06-04")
    # 120.00 inclusive of 20 %: tax = 120 x 0.20 / 1.20 = 20.00, net = 100.00
    assert (gb["subtotal"], gb["tax"], gb["total"]) == (D("100"), D("20"), D("120"))


def test_exempt_customer_pays_no_tax(credit_note_scenario) -> None:
    ex = invoice(credit_note_scenario, "cus_exempt", "2026-06-04")
    assert (ex["subtotal"], ex["tax"], ex["total"]) == (D("80"), 0, D("80"))
    assert [r[5] for r in lines(credit_note_scenario, ex["invoice_id"])] == ["exempt"]


def test_jpy_has_no_minor_unit(credit_note_scenario) -> None:
    jp = invoice(credit_note_scenario, "cus_jp", "2026-06-04")
    # 12345.5 JPY -> 12346 (half-up, 0 decimals); tax 10 % = 1234.6 -> 1235; total 13581 = 13581 minor units
    assert (jp["subtotal"], jp["tax"], jp["total"], jp["total_minor"]) == (
        D("12346"),
        D("1235"),
        D("13581"),
        13581,
    )


def test_numbers_are_gapless_and_ordered_by_issue_date_then_customer(credit_note_scenario) -> None:
    rows = credit_note_scenario.warehouse.query(
        "select invoice_number, issue_date, customer_id from billing.fct_invoices order by invoice_sequence"
    )
    # run 1: 2026-05-04 cus_us; 2026-06-04 by customer id; run 2: 2026-07-04 cus_us
    assert rows == [
        ("UB-2026-000001", date(2026, 5, 4), "cus_us"),
        ("UB-2026-000002", date(2026, 6, 4), "cus_de"),
        ("UB-2026-000003", date(2026, 6, 4), "cus_exempt"),
        ("UB-2026-000004", date(2026, 6, 4), "cus_fr"),
        ("UB-2026-000005", date(2026, 6, 4), "cus_gb"),
        ("UB-2026-000006", date(2026, 6, 4), "cus_jp"),
        ("UB-2026-000007", date(2026, 6, 4), "cus_us"),
        ("UB-2026-000008", date(2026, 7, 4), "cus_us"),
    ]


def test_issued_invoices_never_change_across_runs(credit_note_scenario) -> None:
    # the scenario snapshotted run 1 with the same columns; runs 2 and 3 only appended
    wh = credit_note_scenario.warehouse
    after = wh.query(
        """select invoice_id, invoice_number, customer_id, currency, issue_date, due_date, subtotal, tax_amount,
                  total, total_minor, period_start, period_end
           from billing.fct_issued_invoices where invoice_sequence <= 7 order by 1"""
    )
    assert after == credit_note_scenario.run1_invoices
    lines_after = wh.query(
        """select invoice_line_id, invoice_id, line_number, billing_line_id, amount, tax_amount, gross_amount
           from billing.fct_invoice_lines where invoice_id in (select invoice_id from billing.fct_issued_invoices
           where invoice_sequence <= 7) order by 1"""
    )
    assert lines_after == credit_note_scenario.run1_lines
    # the French invoice still says 300.00 although its line was restated to 200.00 afterwards
    assert invoice(credit_note_scenario, "cus_fr", "2026-06-04")["total"] == D("300")


def test_second_period_invoice_has_next_fee_and_usage(credit_note_scenario) -> None:
    june = invoice(credit_note_scenario, "cus_us", "2026-07-04")
    # July fee 500.00 + June GPU included 0.00 + 4,000 API calls x 0.50/1K = 2.00 -> 502.00
    assert (june["number"], june["total"]) == ("UB-2026-000008", D("502"))


def test_late_event_produces_debit_note_on_original_period(credit_note_scenario) -> None:
    wh = credit_note_scenario.warehouse
    original = invoice(credit_note_scenario, "cus_us", "2026-06-04")
    notes = wh.query(
        """select credit_note_number, kind, original_invoice_id, period_start, period_end, amount, amount_minor,
                  tax_amount, issue_date, reason
           from billing.fct_credit_notes where customer_id = 'cus_us'"""
    )
    # 2,000 late calls: 14,345 x 0.0005 = 7.1725 -> 7.17, minus the 6.17 issued = +1.00
    # numbers: both notes issued 2026-07-04, ordered by customer: cus_fr first, cus_us second
    assert len(notes) == 1
    number, kind, original_id, start, end, amount, minor, tax, issued, reason = notes[0]
    assert (number, kind, original_id) == ("UBCN-2026-000002", "debit", original["invoice_id"])
    assert (start, end) == (date(2026, 5, 1), date(2026, 7, 1))
    assert (amount, minor, tax, issued) == (D("1.00"), 100, 0, date(2026, 7, 4))
    assert reason.startswith("Late usage: 1 usage events") and "UB-2026-000007" in reason
    note_lines = wh.query(
        "select billing_line_id, quantity, amount from billing.fct_credit_note_lines where original_invoice_id = ?",
        [original["invoice_id"]],
    )
    assert note_lines == [("bl_us_api_may", D("2000"), D("1.00"))]


def test_restatement_produces_credit_note_with_tax(credit_note_scenario) -> None:
    wh = credit_note_scenario.warehouse
    rows = wh.query(
        """select credit_note_number, kind, subtotal, tax_amount, amount, amount_minor, reason
           from billing.fct_credit_notes where customer_id = 'cus_fr'"""
    )
    # 200.00 - 250.00 = -50.00 net, 20 % tax -10.00, -60.00 in all
    assert len(rows) == 1
    assert rows[0][:6] == ("UBCN-2026-000001", "credit", D("-50"), D("-10"), D("-60"), -6000)
    assert rows[0][6].startswith("Restatement")
    fr = wh.query("select total_after_notes from billing.fct_invoices where customer_id = 'cus_fr'")
    assert fr == [(D("240"),)]  # 300.00 - 60.00


def test_rerun_adds_nothing(credit_note_scenario) -> None:
    counts = credit_note_scenario.warehouse.query(
        "select document_type, count(distinct document_id) from billing.fct_issued_lines group by 1 order by 1"
    )
    assert counts == [("credit_note", 1), ("debit_note", 1), ("invoice", 8)]
