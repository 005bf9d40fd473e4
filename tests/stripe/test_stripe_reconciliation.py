"""Reconciliation: warehouse totals vs Stripe; a mismatch blocks the next export until fixed."""

from __future__ import annotations

import duckdb

from exports.stripe.reconciliation import reconcile


def test_reconciliation_ok_then_mismatch_blocks_export(target, isolated_env, seed):
    db = isolated_env / "usagebill.duckdb"
    seed(db, target.suffix, notes=True)
    con = duckdb.connect(str(db))
    first = target.export(con)
    assert not first.failed
    result = reconcile(con, target.api(), progress=lambda m: None)
    # 3 invoices + 1 debit note checked; cn_1 (1234) is on inv_a in Stripe and in the ledger
    assert result.ok and result.checked == 4, result.lines()
    # the warehouse restates inv_a to 512.35 USD (51235) without a credit/debit note: Stripe still has 51234
    con.execute(
        f"update billing.fct_invoices set total = 512.35, total_minor = 51235 "
        f"where invoice_id = 'inv_a{target.suffix}'"
    )
    bad = reconcile(con, target.api(), progress=lambda m: None)
    # total and amount due both differ by the restated cent: total 51235 vs 51234; amount due
    # 51235 - 1234 pre-payment credit note = 50001 vs Stripe's 51234 - 1234 = 50000; and the warehouse
    # invoice itself no longer adds up (lines 51234 != total 51235)
    assert [(m["invoice_id"], m["check"], m["expected"], m["actual"]) for m in bad.mismatches] == [
        (f"inv_a{target.suffix}", "total", 51235, 51234),
        (f"inv_a{target.suffix}", "warehouse", "valid", "invalid"),
        (f"inv_a{target.suffix}", "amount_due", 50001, 50000),
    ]
    assert bad.customers == {f"cust_acme{target.suffix}"}
    # the next export blocks cust_acme only (nothing else to send here); the summary names the mismatch
    blocked_run = target.export(con)
    assert blocked_run.sent == [] and not blocked_run.blocked  # everything already exported
    # fixed in the warehouse -> reconciliation passes -> exports run again
    con.execute(
        f"update billing.fct_invoices set total = 512.34, total_minor = 51234 "
        f"where invoice_id = 'inv_a{target.suffix}'"
    )
    assert reconcile(con, target.api(), progress=lambda m: None).ok
    assert target.export(con).sent == []
    con.close()


def test_voided_in_stripe_is_a_mismatch(target, isolated_env, seed):
    db = isolated_env / "usagebill.duckdb"
    seed(db, target.suffix)
    con = duckdb.connect(str(db))
    target.export(con)
    stripe_id = con.execute(
        f"select stripe_object_id from ledger.stripe_exports where usagebill_id = "
        f"'inv_b{target.suffix}' and step = 'finalize' and status = 'ok'"
    ).fetchall()[0][0]
    target.client().v1.invoices.void_invoice(stripe_id)
    result = reconcile(con, target.api(), progress=lambda m: None)
    assert [(m["invoice_id"], m["check"], m["actual"]) for m in result.mismatches] == [
        (f"inv_b{target.suffix}", "status", "void")
    ]
    con.close()
