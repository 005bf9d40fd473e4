"""late_usage_mode = adjustment_line: corrections go on the customer's next invoice, never on the
issued one, and wait while that customer has no new invoice. Same inputs as test_invoices.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

pytestmark = pytest.mark.slow


def test_late_usage_becomes_adjustment_line_on_next_invoice(adjustment_scenario) -> None:
    wh = adjustment_scenario.warehouse
    rows = wh.query(
        """select invoice_number, total, has_adjustment_lines from billing.fct_invoices
           where customer_id = 'cus_us' order by invoice_sequence"""
    )
    # UB-...07 (May) unchanged at 596.30; UB-...08 (June): July fee 500.00 + June API calls 2.00
    # + adjustment for the 2,000 late May calls (7.17 - 6.17 = 1.00) = 503.00
    assert rows == [
        ("UB-2026-000001", D("500"), False),
        ("UB-2026-000007", D("596.30"), False),
        ("UB-2026-000008", D("503.00"), True),
    ]
    lines = wh.query(
        """select l.line_number, l.line_type, l.billing_line_id, l.amount, l.quantity, l.period_start, l.reason,
                  l.description, s.invoice_number
           from billing.fct_invoice_lines as l
           join billing.fct_invoices as s on l.source_invoice_id = s.invoice_id
           where l.invoice_number = 'UB-2026-000008' and l.line_type = 'adjustment'"""
    )
    assert len(lines) == 1
    number, line_type, billing_line, amount, quantity, start, reason, description, source_number = lines[0]
    assert (number, line_type, billing_line, amount, quantity) == (
        4,
        "adjustment",
        "bl_us_api_may",
        D("1"),
        2000,
    )
    assert (start, source_number) == (date(2026, 5, 1), "UB-2026-000007")
    assert description.startswith("Adjustment to invoice UB-2026-000007")
    assert reason.startswith("Late usage: 1 usage events")


def test_correction_waits_when_customer_has_no_new_invoice(adjustment_scenario) -> None:
    wh = adjustment_scenario.warehouse
    # cus_fr's restatement (-60.00) has no next invoice yet: nothing issued, no note, May invoice unchanged
    assert wh.query("select count(*) from billing.fct_credit_notes") == [(0,)]
    assert wh.query("select total from billing.fct_invoices where customer_id = 'cus_fr'") == [(D("300"),)]
    assert wh.query(
        "select count(*) from billing.fct_issued_lines where customer_id = 'cus_fr' and issue_date > '2026-06-04'"
    ) == [(0,)]
