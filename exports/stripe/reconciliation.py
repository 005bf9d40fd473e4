"""Reconcile the warehouse with Stripe: every exported invoice, line by line, and every Stripe invoice that
carries our metadata. All amounts are compared in Stripe's units (exports/stripe/currencies.py: ISK x100).

For each invoice (and debit note) the ledger says was finalized in Stripe, retrieve it and compare with the
warehouse as it is now (billing.fct_invoices / fct_invoice_lines / fct_credit_notes):

  warehouse         the invoice still exists in the warehouse
  total             Stripe `total` == total_minor (debit notes: |amount_minor|, tax included)
  currency          Stripe `currency` == warehouse currency (lower case)
  status            open, paid or uncollectible (void or draft is a mismatch)
  lines             Stripe's lines (usagebill_line_key, amount) == the invoice's items, one by one
  amount_due        Stripe `amount_due` == usagebill amount_due (total - credits applied after tax) plus any
                    amount Stripe carried to the customer balance from the customer's previous invoice below
                    the minimum charge (computed here from the ledger order and the currency table), minus
                    pre-payment credit notes (Stripe lowers amount_due by them; they are checked themselves)
  credit_notes      each exported credit note is on the Stripe invoice with its amount, and Stripe has no
                    other credit note on it

Then it lists every Stripe invoice and reports `unknown_in_ledger` for one that carries
metadata usagebill_invoice_id but is not the Stripe invoice the ledger knows for that id (a customer billed
twice). Void invoices are ignored.

Results go to ledger.stripe_reconciliation with the customer each row concerns: first a `run_started` row,
one row per check, and last a `run` row. Only a run with its `run` row is complete: the export gate reads the
last complete run (a crashed or killed run can neither clear nor set it) and blocks only the customers whose
checks failed (exporter.check_reconciliation_gate).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import stripe

from exports.stripe.api import StripeApi
from exports.stripe.currencies import StripeCurrencyError, stripe_currency, to_stripe_amount
from exports.stripe.ledger import Ledger, utc_now
from exports.stripe.source import ExportInvoice, _columns, load_credit_notes, load_invoices

# the statuses an exported (finalized) invoice may have in Stripe, as the ledger records them
# (https://docs.stripe.com/invoicing/overview#invoice-statuses: draft -> open -> paid | uncollectible | void)
EXPORTED_STATES = "open|paid|uncollectible"


@dataclass
class ReconciliationResult:
    run_id: str
    checked: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    not_exported: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def customers(self) -> set[str]:
        return {m["customer_id"] for m in self.mismatches if m.get("customer_id")}

    def lines(self) -> list[str]:
        head = (
            f"Stripe reconciliation {self.run_id}: {self.checked} invoice(s) checked, {len(self.mismatches)} "
            f"mismatch(es), {self.not_exported} issued invoice(s) not yet exported"
        )
        return [head] + [
            f"  MISMATCH invoice {m['invoice_id']} (Stripe {m['stripe_invoice_id']}, customer "
            f"{m['customer_id']}) {m['check']}: expected {m['expected']}, Stripe has {m['actual']}"
            for m in self.mismatches
        ]


def _expected(
    con: duckdb.DuckDBPyConnection,
) -> tuple[dict[str, ExportInvoice], dict[str, dict[str, Any]], dict[str, str]]:
    """What Stripe should hold, in Stripe units: invoices and debit notes by id, credit notes by id, and the
    invoices that fail the export rules now (with the reason; their head figures are still compared)."""
    invoices, errors, _ = load_invoices(con)
    credits, debits, _ = load_credit_notes(con)
    by_id = {i.usagebill_id: i for i in invoices + debits}
    invalid = dict(errors)
    if invalid:
        cols = _columns(con, "billing", "fct_invoices")
        due = "amount_due_minor" if "amount_due_minor" in cols else "total_minor"
        for inv_id, customer, currency, total_minor, due_minor in con.execute(
            f"select invoice_id, customer_id, upper(currency), total_minor, {due} from billing.fct_invoices "
            f"where invoice_id in ({','.join('?' * len(invalid))})",
            list(invalid),
        ).fetchall():
            try:
                total_s, due_s = (
                    to_stripe_amount(total_minor, currency),
                    to_stripe_amount(due_minor, currency),
                )
            except StripeCurrencyError:
                continue
            by_id[inv_id] = ExportInvoice(
                "invoice", inv_id, "", customer, currency, None, None, total_s, (), amount_due_minor=due_s
            )
    notes = {
        c.credit_note_id: {"invoice_id": c.original_invoice_id, "amount": c.total_minor} for c in credits
    }
    return by_id, notes, invalid


def reconcile(
    con: duckdb.DuckDBPyConnection,
    api: StripeApi,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReconciliationResult:
    run_id = run_id or "recon-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    progress = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    ledger = Ledger(con, run_id)
    checked_at = utc_now()
    result = ReconciliationResult(run_id)
    ledger.record_check(
        run_id, checked_at, None, None, "run_started", None, None, True, "incomplete until `run`"
    )
    expected, notes, invalid = _expected(con)
    exported = ledger.exported_invoices()
    exported_ids = {e["usagebill_id"] for e in exported}
    result.not_exported = sum(1 for i in expected if i not in exported_ids)
    known_stripe = ledger.known_stripe_invoices()

    def check(
        inv_id: str | None,
        stripe_id: str | None,
        customer: str | None,
        name: str,
        want: object,
        have: object,
        detail: str = "",
    ) -> None:
        ok = want == have
        ledger.record_check(
            run_id, checked_at, inv_id, stripe_id, name, want, have, ok, detail or None, customer_id=customer
        )
        if not ok:
            result.mismatches.append(
                {
                    "invoice_id": inv_id,
                    "stripe_invoice_id": stripe_id,
                    "customer_id": customer,
                    "check": name,
                    "expected": want,
                    "actual": have,
                }
            )

    carried: dict[str, int] = {}  # customer -> amount Stripe carried to the balance from the previous invoice
    for n, row in enumerate(exported, 1):
        inv_id, stripe_id = row["usagebill_id"], row["stripe_invoice_id"]
        result.checked += 1
        want = expected.get(inv_id)
        if want is None:
            try:
                owner = (api.retrieve_invoice(stripe_id).get("metadata") or {}).get("usagebill_customer_id")
            except stripe.InvalidRequestError:
                owner = None
            check(
                inv_id,
                stripe_id,
                owner,
                "warehouse",
                "present",
                "missing",
                "exported to Stripe but no longer in the warehouse marts (or no longer billed through Stripe)",
            )
            continue
        customer = want.customer_id
        try:
            inv = api.retrieve_invoice(stripe_id)
        except stripe.InvalidRequestError as e:
            check(inv_id, stripe_id, customer, "status", EXPORTED_STATES, "missing", str(e.user_message))
            continue
        check(inv_id, stripe_id, customer, "total", want.total_minor, inv["total"])
        check(inv_id, stripe_id, customer, "currency", want.currency.lower(), inv["currency"])
        found = EXPORTED_STATES if inv["status"] in EXPORTED_STATES.split("|") else inv["status"]
        check(inv_id, stripe_id, customer, "status", EXPORTED_STATES, found, f"Stripe status {inv['status']}")
        if inv_id in invalid:
            check(inv_id, stripe_id, customer, "warehouse", "valid", "invalid", invalid[inv_id])
        else:
            lines = inv.get("lines") or {}
            stripe_lines = lines.get("data") or []
            if lines.get("has_more"):
                stripe_lines = api.list_invoice_lines(stripe_id)
            have_lines = sorted(
                ((ln.get("metadata") or {}).get("usagebill_line_key", "?"), int(ln["amount"]))
                for ln in stripe_lines
            )
            want_lines = sorted((it.line_key, it.amount_minor) for it in want.items)
            check(
                inv_id,
                stripe_id,
                customer,
                "lines",
                want_lines,
                have_lines,
                "(line key, amount), Stripe units",
            )
        # amount due: ours (after credits) plus what Stripe carried from this customer's previous invoice
        carry_in = carried.pop(customer, 0)
        pre_notes = int(inv.get("pre_payment_credit_notes_amount") or 0)  # credit notes, checked below
        want_due = max(want.due_minor + carry_in - pre_notes, 0)
        check(
            inv_id,
            stripe_id,
            customer,
            "amount_due",
            want_due,
            int(inv.get("amount_due") or 0),
            f"usagebill amount due {want.due_minor} + carried from a previous invoice below the minimum "
            f"{carry_in} - pre-payment credit notes {pre_notes}",
        )
        minimum = stripe_currency(want.currency).minimum_charge_minor
        if minimum and 0 < want_due + pre_notes < minimum:
            carried[customer] = want_due
        want_notes = {cid: c["amount"] for cid, c in notes.items() if c["invoice_id"] == inv_id}
        if (
            want_notes
            or int(inv.get("pre_payment_credit_notes_amount") or 0)
            or int(inv.get("post_payment_credit_notes_amount") or 0)
        ):
            have_notes = {
                (cn.get("metadata") or {}).get("usagebill_credit_note_id") or cn["id"]: int(cn["total"])
                for cn in api.list_credit_notes(stripe_id)
                if cn.get("status") != "void"
            }
        else:
            have_notes = {}
        check(
            inv_id,
            stripe_id,
            customer,
            "credit_notes",
            sorted(want_notes.items()),
            sorted(have_notes.items()),
        )
        if n % 50 == 0:
            progress(f"stripe reconciliation: {n}/{len(exported)} invoices checked")
    # Stripe invoices carrying our metadata that the ledger does not know: billed twice
    for inv in api.list_invoices({}):
        meta = inv.get("metadata") or {}
        ub_id = meta.get("usagebill_invoice_id")
        if not ub_id or inv["status"] == "void" or inv["id"] in known_stripe.get(ub_id, set()):
            continue
        check(
            ub_id,
            inv["id"],
            meta.get("usagebill_customer_id"),
            "unknown_in_ledger",
            "no Stripe invoice but the ledger's",
            f"{inv['status']} {inv['total']} {inv['currency']}",
            f"Stripe invoice {inv['id']} carries usagebill_invoice_id {ub_id} but the ledger knows "
            f"{sorted(known_stripe.get(ub_id, set())) or 'none'}: void it in Stripe if it bills the customer twice",
        )
    ledger.record_check(
        run_id,
        utc_now(),
        None,
        None,
        "run",
        0,
        len(result.mismatches),
        result.ok,
        f"{result.checked} checked, {result.not_exported} issued not exported",
    )
    return result
