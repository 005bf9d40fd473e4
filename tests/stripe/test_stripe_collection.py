"""Stripe collects: send/pay per collection method, due dates as dates, minimum charge amounts carried to the
customer balance, credits applied after tax as a customer balance credit (fake only: fault-free, counted)."""

from __future__ import annotations

from calendar import timegm
from datetime import date

import duckdb
import pytest

from exports.stripe.reconciliation import reconcile


def _run(target, con, **kw):
    return target.export(con, **kw)


def _stripe_invoice(con, target, inv_id):
    stripe_id = con.execute(
        "select stripe_object_id from ledger.stripe_exports where usagebill_id = ? and step = 'finalize' "
        "and status in ('ok', 'recovered') order by recorded_at desc limit 1",
        [inv_id],
    ).fetchall()[0][0]
    return target.client().v1.invoices.retrieve(stripe_id).to_dict()


def _fake_only(target):
    if not target.is_fake:
        pytest.skip("reads the fake's state")


def test_send_invoice_due_date_is_the_invoice_due_date_and_it_is_sent(target, seeded_con):
    con = seeded_con
    summary = _run(target, con, collection_method="send_invoice")
    assert not summary.failed
    inv = _stripe_invoice(con, target, "inv_a")
    # inv_a is due 2026-12-04: 00:00 UTC that day, not "now + days"
    assert inv["due_date"] == timegm(date(2026, 12, 4).timetuple()) == 1796342400
    assert inv["collection_method"] == "send_invoice" and inv["status"] == "open"
    sent = [e for e in target.control("state", method="GET")["events"] if e["type"] == "invoice.sent"]
    assert len(sent) == 3  # inv_a, inv_b, inv_c each sent once
    assert _run(target, con).api_calls == 0  # collected invoices are not sent again
    con.close()


def test_charge_automatically_pays_and_catalog_column_overrides(target, seeded_con):
    con = seeded_con
    con.execute("alter table staging.stg_catalog__customers add column collection_method varchar")
    con.execute(
        "update staging.stg_catalog__customers set collection_method = 'charge_automatically' "
        "where customer_id = 'cust_acme'"
    )
    summary = _run(target, con)  # default send_invoice, cust_acme charged automatically
    assert not summary.failed
    a, b = _stripe_invoice(con, target, "inv_a"), _stripe_invoice(con, target, "inv_b")
    assert (a["collection_method"], a["status"], a["amount_paid"]) == ("charge_automatically", "paid", 51234)
    assert (b["collection_method"], b["status"]) == ("send_invoice", "open")
    con.close()


def test_declined_charge_is_a_payment_outcome_not_an_export_failure(target, seeded_con):
    con = seeded_con
    # cust_tokyo already exists in Stripe with a card that declines (the fake's fake_payment=fail)
    target.client().v1.customers.create(
        params={"name": "Tokyo", "metadata": {"usagebill_customer_id": "cust_tokyo", "fake_payment": "fail"}}
    )
    summary = _run(target, con, collection_method="charge_automatically")
    assert not summary.failed and sorted(summary.sent) == ["inv_a", "inv_b", "inv_c"]
    b = _stripe_invoice(con, target, "inv_b")
    assert (b["status"], b["attempt_count"], b["auto_advance"]) == ("open", 1, True)  # Stripe retries
    detail = con.execute(
        "select detail from ledger.stripe_exports where usagebill_id = 'inv_b' and step = 'collect' "
        "and status = 'ok'"
    ).fetchall()[0][0]
    assert detail.startswith("payment failed: card_declined")
    con.close()


def _small_invoices(db, seed):
    """cust_acme: inv_s1 of 0.30 USD (below Stripe's 0.50 USD minimum) then inv_s2 of 2.00 USD."""
    seed(db)
    con = duckdb.connect(str(db))
    con.execute("delete from billing.fct_invoices")
    con.execute("delete from billing.fct_invoice_lines")
    for inv_id, issue, amount in (("inv_s1", "2026-11-04", "0.30"), ("inv_s2", "2026-12-04", "2.00")):
        con.execute(
            f"insert into billing.fct_invoices values ('{inv_id}', '{inv_id}', 'cust_acme', null, 'USD', "
            f"'2026-10-01', '2026-11-01', '{issue}', '2027-01-04', {amount}, 0, {amount}, "
            f"{int(float(amount) * 100)}, 'issued')"
        )
        con.execute(
            f"insert into billing.fct_invoice_lines values ('{inv_id}-1', '{inv_id}', 1, 'gpu', 'usage', 'GPU', 1, "
            f"{amount}, {amount}, {int(float(amount) * 100)}, null, 0, 'USD', '2026-10-01', '2026-11-01', "
            f"{amount}, null, null)"
        )
    return con


def test_invoice_below_minimum_is_marked_paid_and_carried_to_the_next(target, isolated_env, seed):
    _fake_only(target)
    con = _small_invoices(isolated_env / "usagebill.duckdb", seed)
    summary = _run(target, con, workers=1)
    assert not summary.failed
    s1, s2 = _stripe_invoice(con, target, "inv_s1"), _stripe_invoice(con, target, "inv_s2")
    # 0.30 USD < 0.50 USD minimum: Stripe marks it paid without a charge and adds 30 to the balance
    assert (s1["status"], s1["amount_due"], s1["amount_paid"]) == ("paid", 30, 0)
    # the next invoice carries it: amount due 200 + 30 = 230 cents
    assert (s2["total"], s2["starting_balance"], s2["amount_due"]) == (200, 30, 230)
    detail = con.execute(
        "select amount_minor, detail from ledger.stripe_exports where usagebill_id = 'inv_s1' and step = 'collect'"
    ).fetchall()
    assert detail[0][0] == 30 and detail[0][1].startswith("below_minimum") and "0.30 USD" in detail[0][1]
    # reconciliation expects the carried 30 cents on inv_s2 (200 + 30 = 230): no mismatch
    assert reconcile(con, target.api(), progress=lambda m: None).ok
    con.close()


def test_credits_applied_after_tax_as_customer_balance(target, seeded_con):
    con = seeded_con
    # invoice helper's contract: credits_applied / amount_due with *_minor twins
    con.execute("alter table billing.fct_invoices add column credits_applied_minor bigint default 0")
    con.execute("alter table billing.fct_invoices add column amount_due_minor bigint")
    con.execute("update billing.fct_invoices set amount_due_minor = total_minor")
    # inv_c: 100.00 + 20 % VAT = 120.00; 30.00 of credits after tax -> amount due 90.00 (tax stays 20.00)
    con.execute(
        "update billing.fct_invoices set credits_applied_minor = 3000, amount_due_minor = 9000 "
        "where invoice_id = 'inv_c'"
    )
    summary = _run(target, con, workers=1)
    assert not summary.failed
    c = _stripe_invoice(con, target, "inv_c")
    assert (c["subtotal"], sum(t["amount"] for t in c["total_taxes"]), c["total"]) == (10000, 2000, 12000)
    assert (c["starting_balance"], c["amount_due"]) == (-3000, 9000)
    assert reconcile(con, target.api(), progress=lambda m: None).ok
    con.close()


def test_inclusive_tax_line_goes_as_gross_amount_with_an_inclusive_rate(target, seeded_con):
    con = seeded_con
    # inv_c restated as tax-inclusive: gross 120.00 at 20 % inclusive -> tax 120 x 0.2 / 1.2 = 20.00, net 100.00;
    # the invoice total is the gross 120.00 (12000)
    con.execute(
        "update billing.fct_invoice_lines set amount = 120.00, amount_minor = 12000, net_amount = 100.00, "
        "is_tax_inclusive = true where invoice_id = 'inv_c'"
    )
    summary = _run(target, con)
    assert not summary.failed, summary.failed
    c = _stripe_invoice(con, target, "inv_c")
    assert [(ln["amount"], len(ln["tax_rates"])) for ln in c["lines"]["data"]] == [(12000, 1)]
    assert (c["total"], sum(t["amount"] for t in c["total_taxes"]), c["total_excluding_tax"]) == (
        12000,
        2000,
        10000,
    )
    rate = target.control("state", method="GET")["objects"]["tax_rate"]
    assert [(r["percentage"], r["inclusive"]) for r in rate.values()] == [("20", True)]
    con.close()


def test_debit_note_tax_goes_as_a_tax_rate_not_as_an_item(target, isolated_env, seed):
    _fake_only(target)
    db = isolated_env / "usagebill.duckdb"
    seed(db, target.suffix, notes=True)
    con = duckdb.connect(str(db))
    # dn_2 on inv_c (USD, 20 % VAT exclusive): 2 more GPU-hours at 25.00 = 50.00 net, tax 50.00 x 0.20 = 10.00,
    # debit note total 60.00 USD = 6000 cents. Stripe must show 5000 + 1000 of tax (a TaxRate of 20 %), not two items.
    con.execute(
        "insert into billing.fct_credit_notes values ('dn_2', 'DN-0002', 'debit', 'inv_c', 'cust_acme', 'USD', "
        "'2026-10-01', '2026-11-01', 'late GPU usage', 60.00, 6000, 10.00, '2026-11-10')"
    )
    con.execute(
        "insert into billing.fct_credit_note_lines values ('dn_2:1', 'dn_2', 1, 'gpu_hours', 'adjustment', "
        "'Adjustment to invoice UB-0003: GPU hours', 2, 25, 50.00, 5000, 'vat_20', 0.20, 10.00, 50.00, 'USD', "
        "'2026-10-01', '2026-11-01')"
    )
    summary = _run(target, con, workers=1)
    assert not summary.failed, summary.failed
    dn = _stripe_invoice(con, target, "dn_2")
    assert [(ln["amount"], len(ln["tax_rates"])) for ln in dn["lines"]["data"]] == [(5000, 1)]
    assert (dn["subtotal"], sum(t["amount"] for t in dn["total_taxes"]), dn["total"]) == (5000, 1000, 6000)
    assert reconcile(con, target.api(), progress=lambda m: None).ok
    con.close()
