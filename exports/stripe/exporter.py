"""Export issued invoices, debit notes and credit notes from the warehouse to Stripe exactly once.

Per invoice (steps, each written to ledger.stripe_exports `started` before and `ok`/`recovered` after its call):

  create_customer     search customers by metadata usagebill_customer_id, else create   key usagebill:customer:<id>:create
  create_invoice      search invoices by metadata usagebill_invoice_id, else create a draft
                      (pending_invoice_items_behavior=exclude, auto_advance=false)       key usagebill:<invoice_id>:create_invoice
  add_item (per line) list the draft's items (only if the draft existed before this run),
                      else create with the exact amount in minor units                   key usagebill:<invoice_id>:item:<line_key>
  finalize            retrieve; total must equal total_minor; finalize (or record it
                      recovered when Stripe already finalized it)                        key usagebill:<invoice_id>:finalize

A crash between any two calls leaves the ledger with at most one step in doubt; the re-run finds the object
by metadata (or the same idempotency key replays the first response), so Stripe ends with exactly one invoice.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import uuid
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import stripe

from exports.stripe.api import PlannedCallsApi, RetryPolicy, StripeApi
from exports.stripe.ledger import DONE, Ledger, StepRow
from exports.stripe.settings import DRY_RUN, StripeSettings, make_client
from exports.stripe.source import (
    Customer,
    ExportCreditNote,
    ExportInvoice,
    SourceError,
    customer_key,
    load_credit_notes,
    load_customers,
    load_invoices,
)
from usagebill import paths


class ExportError(RuntimeError):
    """One invoice cannot be exported; the message names it and says what to do."""


class ReconciliationBlocked(RuntimeError):
    """The last reconciliation found mismatches; exports wait until they are fixed (or overridden)."""


def idempotency_key(*parts: str) -> str:
    """Deterministic key `usagebill:<parts...>`; long keys keep a readable prefix plus a hash (Stripe: <= 255)."""
    key = "usagebill:" + ":".join(parts)
    if len(key) <= 255:
        return key
    return key[:200] + ":" + hashlib.sha256(key.encode()).hexdigest()


def _ts(d: date | None) -> int | None:
    return None if d is None else timegm(d.timetuple())


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


@dataclass
class RunSummary:
    run_id: str
    mode: str
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_exportable: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    retries: int = 0
    planned_calls_file: str | None = None

    def lines(self) -> list[str]:
        out = [
            f"Stripe export run {self.run_id} ({self.mode}): sent {len(self.sent)}, skipped as already exported "
            f"{len(self.skipped)}, failed {len(self.failed)}; {self.api_calls} API calls, {self.retries} retries"
        ]
        if self.not_exportable:
            out.append(
                "  not exportable (status): " + ", ".join(f"{k}={v}" for k, v in self.not_exportable.items())
            )
        out += [f"  FAILED {obj}: {reason}" for obj, reason in self.failed]
        if self.planned_calls_file:
            out.append(f"  dry run: planned calls written to {self.planned_calls_file}")
        return out


class StripeExporter:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        api: StripeApi | PlannedCallsApi,
        *,
        run_id: str | None = None,
        dry_run: bool = False,
        collection_method: str = "send_invoice",
        paid_credit_method: str = "credit_amount",
        override_reconciliation: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if collection_method not in ("send_invoice", "charge_automatically"):
            raise ValueError("collection_method must be send_invoice or charge_automatically")
        if paid_credit_method not in ("credit_amount", "out_of_band_amount", "refund_amount"):
            raise ValueError("paid_credit_method must be credit_amount, out_of_band_amount or refund_amount")
        self.con = con
        self.api = api
        self.run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.dry_run = dry_run
        self.ledger = Ledger(con, self.run_id, write=not dry_run)
        self.collection_method = collection_method
        self.paid_credit_method = paid_credit_method
        self.override_reconciliation = override_reconciliation
        self.progress = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._customers: dict[str, str] = {}
        self._catalog: dict[str, Customer] = {}

    # ------------------------------------------------------------------ run
    def check_reconciliation_gate(self) -> None:
        mismatches = self.ledger.last_reconciliation_mismatches()
        if not mismatches:
            return
        shown = "; ".join(
            f"invoice {m['invoice_id']} (Stripe {m['stripe_invoice_id']}) {m['check_name']}: expected "
            f"{m['expected']}, Stripe has {m['actual']}"
            for m in mismatches[:10]
        )
        more = f" (and {len(mismatches) - 10} more)" if len(mismatches) > 10 else ""
        message = (
            f"Stripe export refused: the last reconciliation ({mismatches[0]['checked_at']}) found "
            f"{len(mismatches)} mismatch(es) in ledger.stripe_reconciliation: {shown}{more}. Fix them in Stripe "
            "or the warehouse and re-run reconciliation, or override with --ignore-reconciliation "
            "(env STRIPE_IGNORE_RECONCILIATION=1)."
        )
        if self.override_reconciliation:
            self.progress("WARNING (override) " + message)
            return
        raise ReconciliationBlocked(message)

    def run(self) -> RunSummary:
        summary = RunSummary(self.run_id, "dry_run" if self.dry_run else "send")
        self.check_reconciliation_gate()
        invoices, errors, summary.not_exportable = load_invoices(self.con)
        credits, debits, note_errors = load_credit_notes(self.con)
        self._catalog = load_customers(self.con)
        for obj_id, reason in errors:
            self._fail(summary, "invoice", obj_id, reason)
        for obj_id, reason in note_errors:
            self._fail(summary, "credit_note", obj_id, reason)
        done = {e: self.ledger.done_ids(e, "finalize") for e in ("invoice", "debit_note")}
        done_cn = self.ledger.done_ids("credit_note", "create_credit_note")
        work: list[tuple[str, Any]] = [("invoice", i) for i in invoices] + [("debit_note", d) for d in debits]
        work += [("credit_note", c) for c in credits]
        total = len(work)
        for n, (entity, obj) in enumerate(work, 1):
            obj_id = obj.credit_note_id if entity == "credit_note" else obj.usagebill_id
            if (entity == "credit_note" and obj_id in done_cn) or obj_id in done.get(entity, set()):
                summary.skipped.append(obj_id)
                continue
            try:
                if entity == "credit_note":
                    outcome = self.export_credit_note(obj)
                else:
                    outcome = self.export_invoice(obj)
            except (stripe.StripeError, ExportError, SourceError) as e:
                self._fail(summary, entity, obj_id, _reason(e))
                continue
            (summary.sent if outcome == "sent" else summary.skipped).append(obj_id)
            if n % 25 == 0 or n == total:
                self.progress(
                    f"stripe export: {n}/{total} processed ({len(summary.sent)} sent, "
                    f"{len(summary.failed)} failed)"
                )
        summary.api_calls = self.api.calls
        summary.retries = self.api.retries
        if isinstance(self.api, PlannedCallsApi):
            self.api.close()
            summary.planned_calls_file = str(self.api.path)
        return summary

    def _fail(self, summary: RunSummary, entity: str, obj_id: str, reason: str) -> None:
        summary.failed.append((obj_id, reason))
        self.ledger.record(entity, obj_id, "export", "failed", "", detail=reason)
        self.progress(f"stripe export: FAILED {entity} {obj_id}: {reason}")

    # ------------------------------------------------------------------ customers
    def ensure_customer(self, customer_id: str, tenant_id: str = "default") -> str:
        """The Stripe customer of (tenant_id, customer_id): two tenants' customers with the same id
        are two Stripe customers (metadata usagebill_tenant_id tells them apart)."""
        ref = customer_key(customer_id, tenant_id)
        if ref in self._customers:
            return self._customers[ref]
        row = self.ledger.latest_steps("customer", ref).get(("create_customer", ""))
        if row and row.status in DONE and row.stripe_object_id:
            self._customers[ref] = row.stripe_object_id
            return row.stripe_object_id
        key = idempotency_key("customer", ref, "create")
        query = f"metadata['usagebill_customer_id']:'{_q(customer_id)}'"
        # a customer created before tenants existed has no usagebill_tenant_id: it is the default tenant's
        found = [
            c
            for c in self.api.search_customers(query)
            if (c.get("metadata") or {}).get("usagebill_tenant_id", "default") == tenant_id
        ]
        if found:
            cus_id = min(found, key=lambda c: (c["created"], c["id"]))["id"]
            self.ledger.record(
                "customer",
                ref,
                "create_customer",
                "recovered",
                key,
                stripe_object_id=cus_id,
                detail=f"found by search ({len(found)} match)",
            )
        else:
            info = self._catalog.get(ref, Customer(customer_id, tenant_id=tenant_id))
            params: dict[str, Any] = {
                "name": info.name or customer_id,
                "metadata": {"usagebill_customer_id": customer_id, "usagebill_tenant_id": tenant_id},
            }
            if info.email:
                params["email"] = info.email
            if info.country:
                params["address"] = {"country": info.country}
            self.ledger.record("customer", ref, "create_customer", "started", key)
            try:
                cus_id = self.api.create_customer(params, key)["id"]
            except stripe.IdempotencyError as e:
                raise ExportError(
                    f"customer {ref}: its details changed since an earlier unacknowledged "
                    f"create with key {key} ({e.user_message}); it will be found by search on the next "
                    "run once Stripe's search index has it"
                ) from e
            self.ledger.record("customer", ref, "create_customer", "ok", key, stripe_object_id=cus_id)
        self._customers[ref] = cus_id
        return cus_id

    # ------------------------------------------------------------------ invoices
    def export_invoice(self, inv: ExportInvoice) -> str:
        steps = self.ledger.latest_steps(inv.entity, inv.usagebill_id)
        fin = steps.get(("finalize", ""))
        if fin and fin.status in DONE:
            return "skipped"
        customer = self.ensure_customer(inv.customer_id, inv.tenant_id)
        stripe_id, fresh = self._ensure_draft(inv, customer, steps.get(("create_invoice", "")))
        self._ensure_items(inv, customer, stripe_id, fresh, steps)
        self._finalize(inv, stripe_id)
        return "sent"

    def _record(self, inv: ExportInvoice, step: str, status: str, key: str, **kw: Any) -> None:
        self.ledger.record(
            inv.entity,
            inv.usagebill_id,
            step,
            status,
            key,
            invoice_id=inv.original_invoice_id or inv.usagebill_id,
            currency=inv.currency,
            **kw,
        )

    def _ensure_draft(self, inv: ExportInvoice, customer: str, row: StepRow | None) -> tuple[str, bool]:
        if row and row.status in DONE and row.stripe_object_id:
            return row.stripe_object_id, False
        key = idempotency_key(inv.usagebill_id, "create_invoice")
        found = [
            i
            for i in self.api.search_invoices(f"metadata['usagebill_invoice_id']:'{_q(inv.usagebill_id)}'")
            if i["status"] != "void"
        ]
        if found:
            if len(found) > 1:
                raise ExportError(
                    f"{inv.entity} {inv.usagebill_id}: {len(found)} Stripe invoices carry its metadata "
                    f"({', '.join(i['id'] for i in found)}); void the extra ones in Stripe, then re-run"
                )
            self._record(
                inv,
                "create_invoice",
                "recovered",
                key,
                stripe_object_id=found[0]["id"],
                detail="found by metadata search",
            )
            return found[0]["id"], False
        metadata = {
            "usagebill_invoice_id": inv.usagebill_id,
            "usagebill_invoice_number": inv.number,
            "usagebill_customer_id": inv.customer_id,
            "usagebill_tenant_id": inv.tenant_id,
            "usagebill_kind": inv.entity,
        }
        if inv.original_invoice_id:
            metadata["usagebill_original_invoice_id"] = inv.original_invoice_id
        params: dict[str, Any] = {
            "customer": customer,
            "currency": inv.currency.lower(),
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "collection_method": self.collection_method,
            "description": f"{'Debit note' if inv.entity == 'debit_note' else 'Invoice'} {inv.number}",
            "metadata": metadata,
        }
        if self.collection_method == "send_invoice":
            days = (inv.due_date - inv.issue_date).days if inv.due_date and inv.issue_date else 30
            params["days_until_due"] = max(days, 0)
        self._record(inv, "create_invoice", "started", key)
        created = self.api.create_invoice(params, key)
        self._record(inv, "create_invoice", "ok", key, stripe_object_id=created["id"])
        return created["id"], True

    def _ensure_items(
        self,
        inv: ExportInvoice,
        customer: str,
        stripe_id: str,
        fresh: bool,
        steps: dict[tuple[str, str], StepRow],
    ) -> None:
        pending = [
            it
            for it in inv.items
            if not (steps.get(("add_item", it.line_key)) and steps[("add_item", it.line_key)].status in DONE)
        ]
        if not pending:
            return
        existing: dict[str, dict[str, Any]] = {}
        if not fresh:  # the draft existed before this run: some items may be attached but not in the ledger
            for ii in self.api.list_invoice_items(stripe_id):
                line_key = (ii.get("metadata") or {}).get("usagebill_line_key")
                if line_key:
                    existing[line_key] = ii
        for it in pending:
            key = idempotency_key(inv.usagebill_id, "item", it.line_key)
            if it.line_key in existing:
                ii = existing[it.line_key]
                if ii["amount"] != it.amount_minor:
                    raise ExportError(
                        f"{inv.entity} {inv.usagebill_id}: Stripe item {ii['id']} ({it.line_key}) has "
                        f"amount {ii['amount']}, expected {it.amount_minor}; delete the draft "
                        f"{stripe_id} in Stripe and re-run"
                    )
                self._record(
                    inv,
                    "add_item",
                    "recovered",
                    key,
                    line_key=it.line_key,
                    stripe_object_id=ii["id"],
                    amount_minor=it.amount_minor,
                    detail="found in the draft's items",
                )
                continue
            params: dict[str, Any] = {
                "customer": customer,
                "invoice": stripe_id,
                "currency": inv.currency.lower(),
                "amount": it.amount_minor,
                "description": it.description,
                "metadata": it.metadata,
            }
            if it.period_start and it.period_end:
                params["period"] = {"start": _ts(it.period_start), "end": _ts(it.period_end)}
            self._record(inv, "add_item", "started", key, line_key=it.line_key, amount_minor=it.amount_minor)
            created = self.api.create_invoice_item(params, key)
            self._record(
                inv,
                "add_item",
                "ok",
                key,
                line_key=it.line_key,
                stripe_object_id=created["id"],
                amount_minor=it.amount_minor,
            )

    def _finalize(self, inv: ExportInvoice, stripe_id: str) -> None:
        key = idempotency_key(inv.usagebill_id, "finalize")
        if self.dry_run:
            self.api.finalize_invoice(stripe_id, key)
            return
        current = self.api.retrieve_invoice(stripe_id)
        if current["total"] != inv.total_minor:
            raise ExportError(
                f"{inv.entity} {inv.usagebill_id}: Stripe invoice {stripe_id} ({current['status']}) "
                f"totals {current['total']} minor units, expected {inv.total_minor} {inv.currency}; "
                "not finalized: inspect the draft in Stripe (delete it to re-export)"
            )
        if current["status"] != "draft":
            if current["status"] not in ("open", "paid", "uncollectible"):
                raise ExportError(
                    f"{inv.entity} {inv.usagebill_id}: Stripe invoice {stripe_id} is {current['status']}"
                )
            self._record(
                inv,
                "finalize",
                "recovered",
                key,
                stripe_object_id=stripe_id,
                amount_minor=inv.total_minor,
                detail=f"already {current['status']} with number {current.get('number')}",
            )
            return
        self._record(
            inv, "finalize", "started", key, stripe_object_id=stripe_id, amount_minor=inv.total_minor
        )
        done = self.api.finalize_invoice(stripe_id, key)
        self._record(
            inv,
            "finalize",
            "ok",
            key,
            stripe_object_id=stripe_id,
            amount_minor=inv.total_minor,
            detail=f"number {done.get('number')}",
        )

    # ------------------------------------------------------------------ credit notes
    def export_credit_note(self, cn: ExportCreditNote) -> str:
        key = idempotency_key(cn.credit_note_id, "credit_note")
        stripe_invoice = self.ledger.stripe_id("invoice", cn.original_invoice_id, "finalize")
        if stripe_invoice is None:
            if not self.dry_run:
                raise ExportError(
                    f"credit note {cn.credit_note_id}: its invoice {cn.original_invoice_id} is not in "
                    "Stripe yet (not exported or failed); export the invoice first, then re-run"
                )
            stripe_invoice = f"<stripe id of {cn.original_invoice_id}>"

        def record(status: str, **kw: Any) -> None:
            self.ledger.record(
                "credit_note",
                cn.credit_note_id,
                "create_credit_note",
                status,
                key,
                invoice_id=cn.original_invoice_id,
                amount_minor=cn.total_minor,
                currency=cn.currency,
                **kw,
            )

        if not self.dry_run:
            for existing in self.api.list_credit_notes(stripe_invoice):
                if (existing.get("metadata") or {}).get("usagebill_credit_note_id") == cn.credit_note_id:
                    record("recovered", stripe_object_id=existing["id"], detail="found on the invoice")
                    return "sent"
        params: dict[str, Any] = {
            "invoice": stripe_invoice,
            "amount": cn.total_minor,
            "memo": f"{cn.number}: {cn.reason or ''}"[:500],
            "metadata": {
                "usagebill_credit_note_id": cn.credit_note_id,
                "usagebill_credit_note_number": cn.number,
                "usagebill_invoice_id": cn.original_invoice_id,
                "usagebill_tenant_id": cn.tenant_id,
            },
        }
        if not self.dry_run:
            current = self.api.retrieve_invoice(stripe_invoice)
            if current["status"] not in ("open", "paid"):
                raise ExportError(
                    f"credit note {cn.credit_note_id}: Stripe invoice {stripe_invoice} is "
                    f"{current['status']}; a credit note needs an open or paid invoice"
                )
            pre = min(cn.total_minor, current["amount_remaining"]) if current["status"] == "open" else 0
            if cn.total_minor - pre:
                params[self.paid_credit_method] = cn.total_minor - pre
        record("started")
        try:
            created = self.api.create_credit_note(params, key)
        except stripe.IdempotencyError as e:
            raise ExportError(
                f"credit note {cn.credit_note_id}: key {key} was used with other parameters and the "
                f"credit note is not on invoice {stripe_invoice}: {e.user_message}"
            ) from e
        record("ok", stripe_object_id=created["id"])
        return "sent"


def _reason(e: Exception) -> str:
    if isinstance(e, stripe.StripeError):
        status = f"HTTP {e.http_status}" if e.http_status else "no response"
        code = f" {e.code}" if getattr(e, "code", None) else ""
        return f"Stripe {type(e).__name__} ({status}{code}): {e.user_message or str(e)}"
    return str(e)


def run_export(
    *,
    warehouse: Path | None = None,
    settings: StripeSettings | None = None,
    override_reconciliation: bool | None = None,
    retry: RetryPolicy | None = None,
    hook: Any = None,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """Export from the warehouse with settings from the environment (dry run when no key and no base)."""
    settings = settings or StripeSettings.from_env()
    settings.validate()
    if override_reconciliation is None:
        override_reconciliation = os.environ.get("STRIPE_IGNORE_RECONCILIATION") == "1"
    con = duckdb.connect(str(warehouse or paths.warehouse_path()))
    try:
        if settings.mode == DRY_RUN:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            api: StripeApi | PlannedCallsApi = PlannedCallsApi(
                paths.reports_dir() / "stripe" / f"planned_calls_{stamp}.jsonl"
            )
        else:
            api = StripeApi(make_client(settings), policy=retry, hook=hook)
        exporter = StripeExporter(
            con,
            api,
            dry_run=settings.mode == DRY_RUN,
            override_reconciliation=override_reconciliation,
            collection_method=os.environ.get("STRIPE_COLLECTION_METHOD", "send_invoice"),
            paid_credit_method=os.environ.get("STRIPE_PAID_CREDIT_METHOD", "credit_amount"),
            progress=progress,
        )
        return exporter.run()
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="usagebill stripe export", description="Export issued invoices and notes to Stripe exactly once."
    )
    parser.add_argument(
        "--ignore-reconciliation",
        action="store_true",
        help="export even though the last reconciliation found mismatches",
    )
    args = parser.parse_args(argv)
    settings = StripeSettings.from_env()
    print(f"stripe export: {settings.describe()}", file=sys.stderr)
    try:
        summary = run_export(settings=settings, override_reconciliation=args.ignore_reconciliation or None)
    except (ReconciliationBlocked, SourceError) as e:
        print(str(e), file=sys.stderr)
        return 2
    print("\n".join(summary.lines()))
    return 1 if summary.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
