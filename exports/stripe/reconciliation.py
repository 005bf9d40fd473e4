"""Reconcile the warehouse with Stripe: every exported invoice's total, currency, status and credit notes.

For each invoice (and debit note) the ledger says was finalized in Stripe, retrieve it from Stripe and
compare with the warehouse as it is now (billing.fct_invoices / fct_credit_notes):

  total         Stripe `total` == warehouse total_minor (debit notes: amount_minor + tax)
  currency      Stripe `currency` == warehouse currency (lower case)
  status        Stripe status is open, paid or uncollectible (void or draft is a mismatch)
  credit_notes  Stripe pre + post payment credit notes amount == sum of the exported credit notes
  warehouse     the invoice still exists in the warehouse

Results go to ledger.stripe_reconciliation (one row per check plus a `run` row). The exporter refuses to run
while the last reconciliation run has a failed check (see exporter.check_reconciliation_gate).
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
from exports.stripe.ledger import Ledger, utc_now
from exports.stripe.source import _table_exists


@dataclass
class ReconciliationResult:
    run_id: str
    checked: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    not_exported: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        head = (
            f"Stripe reconciliation {self.run_id}: {self.checked} invoice(s) checked, {len(self.mismatches)} "
            f"mismatch(es), {self.not_exported} issued invoice(s) not yet exported"
        )
        return [head] + [
            f"  MISMATCH invoice {m['invoice_id']} (Stripe {m['stripe_invoice_id']}) {m['check']}: "
            f"expected {m['expected']}, Stripe has {m['actual']}"
            for m in self.mismatches
        ]


def _expected(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, tuple[int, str]], int]:
    expected: dict[str, tuple[int, str]] = {}
    issued = 0
    if _table_exists(con, "billing", "fct_invoices"):
        for inv_id, total_minor, currency, status in con.execute(
            "select invoice_id, total_minor, currency, status from billing.fct_invoices"
        ).fetchall():
            expected[inv_id] = (int(total_minor), currency.lower())
            issued += status == "issued"
    if _table_exists(con, "billing", "fct_credit_notes"):
        for note_id, amount_minor, currency in con.execute(
            "select credit_note_id, amount_minor, currency from billing.fct_credit_notes where kind = 'debit'"
        ).fetchall():
            expected[note_id] = (abs(int(amount_minor)), currency.lower())  # amount includes tax
    return expected, issued


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
    expected, issued = _expected(con)
    credits: dict[str, int] = {}
    for cn in ledger.exported_credit_notes():
        credits[cn["invoice_id"]] = credits.get(cn["invoice_id"], 0) + int(cn["amount_minor"] or 0)
    exported = ledger.exported_invoices()
    result.not_exported = max(issued - sum(1 for e in exported if e["entity"] == "invoice"), 0)

    def check(
        inv_id: str, stripe_id: str | None, name: str, want: object, have: object, detail: str = ""
    ) -> None:
        ok = want == have
        ledger.record_check(run_id, checked_at, inv_id, stripe_id, name, want, have, ok, detail or None)
        if not ok:
            result.mismatches.append(
                {
                    "invoice_id": inv_id,
                    "stripe_invoice_id": stripe_id,
                    "check": name,
                    "expected": want,
                    "actual": have,
                }
            )

    for n, row in enumerate(exported, 1):
        inv_id, stripe_id = row["usagebill_id"], row["stripe_invoice_id"]
        result.checked += 1
        if inv_id not in expected:
            check(
                inv_id,
                stripe_id,
                "warehouse",
                "present",
                "missing",
                "exported to Stripe but no longer in the warehouse marts",
            )
            continue
        want_total, want_currency = expected[inv_id]
        try:
            inv = api.retrieve_invoice(stripe_id)
        except stripe.InvalidRequestError as e:
            check(inv_id, stripe_id, "status", "open|paid|uncollectible", "missing", str(e.user_message))
            continue
        check(inv_id, stripe_id, "total", want_total, inv["total"])
        check(inv_id, stripe_id, "currency", want_currency, inv["currency"])
        status_ok = inv["status"] in ("open", "paid", "uncollectible")
        check(
            inv_id,
            stripe_id,
            "status",
            "open|paid|uncollectible",
            "open|paid|uncollectible" if status_ok else inv["status"],
            f"Stripe status {inv['status']}",
        )
        credited = int(inv.get("pre_payment_credit_notes_amount") or 0) + int(
            inv.get("post_payment_credit_notes_amount") or 0
        )
        check(inv_id, stripe_id, "credit_notes", credits.get(inv_id, 0), credited)
        if n % 50 == 0:
            progress(f"stripe reconciliation: {n}/{len(exported)} invoices checked")
    ledger.record_check(
        run_id,
        checked_at,
        None,
        None,
        "run",
        0,
        len(result.mismatches),
        result.ok,
        f"{result.checked} checked, {result.not_exported} issued not exported",
    )
    return result
