"""Tenant isolation at the Stripe boundary: a customer is (tenant_id, customer_id), so the same
customer id in two tenants is two Stripe customers, and every object carries usagebill_tenant_id."""

from __future__ import annotations

import duckdb
import pytest


def _add_globex_invoice(db) -> None:
    """The seed's invoices belong to the default tenant; tenant globex has its own customer with the
    same id cust_acme and one invoice inv_g of 7.00 USD = 700 cents (one line)."""
    con = duckdb.connect(str(db))
    try:
        con.execute("alter table billing.fct_invoices add column tenant_id varchar default 'default'")
        con.execute("alter table billing.fct_credit_notes add column tenant_id varchar default 'default'")
        con.execute(
            "alter table staging.stg_catalog__customers add column tenant_id varchar default 'default'"
        )
        con.execute(
            "insert into staging.stg_catalog__customers values "
            "('cust_acme', 'Acme', 'billing@acme.example', 'US', 'USD', 'default'), "
            "('cust_acme', 'Globex client', 'ap@globex-client.example', 'US', 'USD', 'globex')"
        )
        con.execute(
            "insert into billing.fct_invoices values ('inv_g', 'UB-0100', 'cust_acme', null, 'USD', "
            "'2026-10-01', '2026-11-01', '2026-11-04', '2026-12-04', 7.00, 0, 7.00, 700, 'issued', 'globex')"
        )
        con.execute(
            "insert into billing.fct_invoice_lines (invoice_line_id, invoice_id, line_number, charge_id, line_type, "
            "description, quantity, unit_price, amount, amount_minor, tax_rate_id, tax_amount, currency, "
            "period_start, period_end, net_amount) values ('inv_g-1', 'inv_g', 1, 'units', 'usage', 'Units', "
            "70, 0.10, 7.00, 700, null, 0, 'USD', '2026-10-01', '2026-11-01', 7.00)"
        )
    finally:
        con.close()


def test_same_customer_id_in_two_tenants_is_two_stripe_customers(target, seeded_db):
    if not target.is_fake:
        pytest.skip("reads the fake's state")
    _add_globex_invoice(seeded_db)
    con = duckdb.connect(str(seeded_db))
    try:
        summary = target.export(con)
    finally:
        con.close()
    assert "inv_g" in summary.sent and not summary.failed
    state = target.control("state", method="GET")["objects"]
    customers = [
        c for c in state["customer"].values() if c["metadata"]["usagebill_customer_id"] == "cust_acme"
    ]
    by_tenant = {c["metadata"]["usagebill_tenant_id"]: c for c in customers}
    assert sorted(by_tenant) == ["default", "globex"] and len(customers) == 2
    assert by_tenant["globex"]["name"] == "Globex client" and by_tenant["default"]["name"] == "Acme"
    invoices = {i["metadata"]["usagebill_invoice_id"]: i for i in state["invoice"].values()}
    assert invoices["inv_g"]["customer"] == by_tenant["globex"]["id"]
    assert invoices["inv_g"]["metadata"]["usagebill_tenant_id"] == "globex"
    assert invoices["inv_g"]["total"] == 700
    # the default tenant's invoices of cust_acme (inv_a, inv_c) stay on the default tenant's customer
    for inv in ("inv_a", "inv_c"):
        assert invoices[inv]["customer"] == by_tenant["default"]["id"]
        assert invoices[inv]["metadata"]["usagebill_tenant_id"] == "default"
