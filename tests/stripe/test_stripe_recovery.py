"""Saved 5xx replays, deleted drafts, invoices unknown to the ledger, and the rate limit under concurrency."""

from __future__ import annotations

import duckdb
import pytest
import stripe

from exports.stripe.api import RetryPolicy, StripeApi
from exports.stripe.exporter import StripeExporter
from exports.stripe.reconciliation import reconcile


def _fake_only(target):
    if not target.is_fake:
        pytest.skip("fault injection exists only on the fake")


def _run(target, con, api=None, **kw):
    return target.export(con, api, **kw)


def _invoices(target):
    return list(target.control("state", method="GET")["objects"]["invoice"].values())


def test_fake_replays_a_saved_500_for_the_same_key(target):
    _fake_only(target)
    # docs.stripe.com/api/idempotent_requests: results are saved once the endpoint began, including 500s
    target.control("faults", {"status": 500, "count": 1, "mode": "saved", "path_prefix": "/v1/customers"})
    client = target.client()
    for _ in range(2):
        with pytest.raises(stripe.APIError) as err:
            client.v1.customers.create(params={"name": "x"}, options={"idempotency_key": "k-500"})
        assert err.value.http_status == 500
    # the second answer is the replay, flagged like Stripe's
    assert err.value.headers.get("Idempotent-Replayed") == "true"
    assert target.control("state", method="GET")["objects"]["customer"] == {}
    # a new key is a new request
    assert client.v1.customers.create(params={"name": "x"}, options={"idempotency_key": "k-new"}).id


@pytest.mark.parametrize("path", ["/v1/invoices", "/v1/invoiceitems", "/v1/customers", "/v1/credit_notes"])
def test_saved_5xx_recovers_with_a_new_key_generation_exactly_once(target, isolated_env, seed, path):
    _fake_only(target)
    db = isolated_env / "usagebill.duckdb"
    expected = seed(db, notes=True)
    target.control(
        "faults", {"status": 500, "count": 1, "mode": "saved", "method": "POST", "path_prefix": path}
    )
    con = duckdb.connect(str(db))
    summary = _run(target, con)
    assert not summary.failed, summary.failed
    by_id: dict[str, list] = {}
    for inv in _invoices(target):
        by_id.setdefault(inv["metadata"]["usagebill_invoice_id"], []).append(inv)
    assert {k: [i["total"] for i in v] for k, v in by_id.items()} == {k: [v] for k, v in expected.items()}
    burned = con.execute(
        "select idempotency_key from ledger.stripe_exports where status = 'key_burned'"
    ).fetchall()
    assert len(burned) == 1
    again = con.execute(
        "select count(*) from ledger.stripe_exports where idempotency_key = ? || ':g2'", [burned[0][0]]
    ).fetchall()[0][0]
    assert again >= 1  # the step went on with generation 2
    assert _run(target, con).api_calls == 0
    con.close()


def test_deleted_draft_is_recreated_instead_of_404_forever(target, seeded_db):
    _fake_only(target)
    # finalize of inv_a fails for good in this run: its draft stays in Stripe
    target.control(
        "faults",
        {"status": 400, "count": 100, "method": "POST", "path_prefix": "/v1/invoices/", "mode": "before"},
    )
    con = duckdb.connect(str(seeded_db))
    first = _run(target, con, workers=1)
    assert len(first.failed) == 3
    target.control("faults", method="DELETE")
    # the operator follows the advice: delete the draft(s) in Stripe and re-run
    client = target.client()
    for inv in _invoices(target):
        client.v1.invoices.delete(inv["id"])
    second = _run(target, con)
    assert not second.failed and sorted(second.sent) == ["inv_a", "inv_b", "inv_c"]
    live = [i for i in _invoices(target)]
    assert sorted((i["metadata"]["usagebill_invoice_id"], i["total"], i["status"]) for i in live) == [
        ("inv_a", 51234, "open"),
        ("inv_b", 1234, "open"),
        ("inv_c", 12000, "open"),
    ]
    con.close()


def test_reconciliation_finds_a_stripe_invoice_the_ledger_does_not_know(target, seeded_con):
    con = seeded_con
    _run(target, con)
    assert reconcile(con, target.api(), progress=lambda m: None).ok
    # someone (or an old bug) created a second Stripe invoice for inv_b: cust_tokyo is billed twice
    client = target.client()
    cus = client.v1.customers.search(params={"query": "metadata['usagebill_customer_id']:'cust_tokyo'"}).data[
        0
    ]
    client.v1.invoice_items.create(params={"customer": cus.id, "amount": 1234, "currency": "jpy"})
    dup = client.v1.invoices.create(
        params={
            "customer": cus.id,
            "pending_invoice_items_behavior": "include",
            "metadata": {"usagebill_invoice_id": "inv_b", "usagebill_customer_id": "cust_tokyo"},
        }
    )
    result = reconcile(con, target.api(), progress=lambda m: None)
    assert [
        (m["invoice_id"], m["stripe_invoice_id"], m["customer_id"], m["check"]) for m in result.mismatches
    ] == [("inv_b", dup.id, "cust_tokyo", "unknown_in_ledger")]
    # only cust_tokyo is blocked: a new invoice for cust_acme still goes out
    con.execute(
        "insert into billing.fct_invoices select 'inv_e', 'UB-0005', customer_id, subscription_id, currency, "
        "period_start, period_end, issue_date, due_date, subtotal, tax_amount, total, total_minor, status "
        "from billing.fct_invoices where invoice_id = 'inv_a'"
    )
    for src, dst in (("inv_a", "inv_e"), ("inv_b", "inv_f")):
        con.execute(
            f"insert into billing.fct_invoice_lines select replace(invoice_line_id, '{src}', '{dst}'), '{dst}', "
            "line_number, charge_id, line_type, description, quantity, unit_price, amount, amount_minor, "
            "tax_rate_id, tax_amount, currency, period_start, period_end, net_amount, tax_rate, is_tax_inclusive "
            f"from billing.fct_invoice_lines where invoice_id = '{src}'"
        )
    con.execute(
        "insert into billing.fct_invoices select 'inv_f', 'UB-0006', customer_id, subscription_id, currency, "
        "period_start, period_end, issue_date, due_date, subtotal, tax_amount, total, total_minor, status "
        "from billing.fct_invoices where invoice_id = 'inv_b'"
    )
    summary = _run(target, con)
    assert summary.sent == ["inv_e"] and [b[0] for b in summary.blocked] == ["inv_f"]
    con.close()


def test_concurrent_export_under_the_fakes_rate_limit_stays_exactly_once(target, isolated_env, seed):
    _fake_only(target)
    db = isolated_env / "usagebill.duckdb"
    expected = seed(db, notes=True)
    # the fake answers 429 above 5 requests/s; the client is configured too fast (50/s) with 4 workers
    target.control("rate_limit", {"per_second": 5})
    api = StripeApi(
        target.client(), policy=RetryPolicy(max_attempts=8, base_seconds=0.05, cap_seconds=0.5), rate_limit=50
    )
    con = duckdb.connect(str(db))
    messages: list[str] = []
    summary = StripeExporter(con, api, progress=messages.append, workers=4).run()
    target.control("rate_limit", {"per_second": None})
    assert not summary.failed and summary.rate_limited > 0
    totals = sorted((i["metadata"]["usagebill_invoice_id"], i["total"]) for i in _invoices(target))
    assert totals == sorted(expected.items())
    assert any("calls/s" in m and "documents" in m for m in messages)  # progress: count, rate, ETA/done
    con.close()


def test_rate_limiter_paces_calls_at_the_configured_rate():
    from exports.stripe.api import RateLimiter

    now = [100.0]
    limiter = RateLimiter(25, clock=lambda: now[0])
    waits = [limiter.wait_time() for _ in range(5)]
    # 25/s = one slot every 0.04 s: 0, 0.04, 0.08, 0.12, 0.16
    assert [round(w, 6) for w in waits] == [0.0, 0.04, 0.08, 0.12, 0.16]
    limiter.pause(1.0)  # a 429's Retry-After pushes every thread back
    assert round(limiter.wait_time(), 6) == 1.0
