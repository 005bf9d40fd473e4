"""Export issued invoices, debit notes and credit notes from the warehouse to Stripe exactly once.

Per invoice (steps, each written to ledger.stripe_exports `started` before and `ok`/`recovered` after its call):

  create_customer     search customers by metadata usagebill_customer_id, else create   key usagebill:customer:<id>:create
  create_invoice      search invoices by metadata usagebill_invoice_id, else create a draft
                      (pending_invoice_items_behavior=exclude, auto_advance=false)       key usagebill:<invoice_id>:create_invoice
  add_item (per line) list the draft's items (only if the draft existed before this run),
                      else create with the exact amount in minor units                   key usagebill:<invoice_id>:item:<line_key>
  apply_credit        credits applied after tax: a customer balance credit (list the
                      customer's balance transactions by metadata, else create)          key usagebill:<invoice_id>:credit_balance
  finalize            retrieve; total and tax must equal the books; finalize (or record
                      it recovered when Stripe already finalized it)                     key usagebill:<invoice_id>:finalize
  collect             per the customer's collection method: send_invoice -> send,
                      charge_automatically -> pay (Stripe marks an invoice below the
                      minimum charge paid and carries it to the balance: recorded)       key usagebill:<invoice_id>:collect

A crash between any two calls leaves the ledger with at most one step in doubt; the re-run finds the object
by metadata (or the same idempotency key replays the first response), so Stripe ends with exactly one invoice.
A key for which Stripe saved a 5xx, or whose object was deleted in Stripe (a deleted draft), is recorded
`key_burned` and the step continues with the next key generation (`<key>:g2`, ...) after a lookup.

Customers are exported in parallel (a thread pool; one customer's documents stay in order on one thread)
under one shared rate limit (exports/stripe/api.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
import time
import uuid
from calendar import timegm
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import stripe

from exports.stripe.api import PlannedCallsApi, RetryPolicy, SavedErrorReplay, StripeApi
from exports.stripe.currencies import below_minimum, from_stripe_amount, stripe_currency
from exports.stripe.ledger import DONE, Ledger, StepRow
from exports.stripe.settings import DRY_RUN, StripeSettings, make_client
from exports.stripe.source import (
    Customer,
    ExportCreditNote,
    ExportInvoice,
    SourceError,
    TaxRate,
    customer_key,
    load_credit_notes,
    load_customers,
    load_invoices,
)
from usagebill import paths
from usagebill.progress import Progress


class ExportError(RuntimeError):
    """One invoice cannot be exported; the message names it and says what to do."""


COLLECTION_METHODS = ("send_invoice", "charge_automatically")


class ReconciliationBlocked(RuntimeError):
    """The last reconciliation found mismatches; exports wait until they are fixed (or overridden)."""


def idempotency_key(*parts: str) -> str:
    """Deterministic key `usagebill:<parts...>`; long keys keep a readable prefix plus a hash (Stripe: <= 255)."""
    key = "usagebill:" + ":".join(parts)
    if len(key) <= 255:
        return key
    return key[:200] + ":" + hashlib.sha256(key.encode()).hexdigest()


def next_key(base: str, burned: set[str]) -> str:
    """The first key generation not burned: base, base:g2, base:g3, ..."""
    key, n = base, 1
    while key in burned:
        n += 1
        key = f"{base}:g{n}"
    return key


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
    blocked: list[tuple[str, str]] = field(default_factory=list)
    api_calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    planned_calls_file: str | None = None

    @property
    def calls_per_second(self) -> float:
        return self.api_calls / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        out = [
            f"Stripe export run {self.run_id} ({self.mode}): sent {len(self.sent)}, skipped as already exported "
            f"{len(self.skipped)}, failed {len(self.failed)}, blocked by reconciliation {len(self.blocked)}; "
            f"{self.api_calls} API calls ({self.calls_per_second:.1f}/s), {self.retries} retries "
            f"({self.rate_limited} rate limited)"
        ]
        out += [f"  BLOCKED {obj}: {reason}" for obj, reason in self.blocked[:20]]
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
        workers: int = 4,
        progress_every: float = 5.0,
    ) -> None:
        if collection_method not in COLLECTION_METHODS:
            raise ValueError("collection_method must be send_invoice or charge_automatically")
        if paid_credit_method not in ("credit_amount", "out_of_band_amount", "refund_amount"):
            raise ValueError("paid_credit_method must be credit_amount, out_of_band_amount or refund_amount")
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.con = con
        self.api = api
        self.run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.dry_run = dry_run
        self.ledger = Ledger(con, self.run_id, write=not dry_run)
        self.collection_method = collection_method
        self.paid_credit_method = paid_credit_method
        self.override_reconciliation = override_reconciliation
        self.progress = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.workers = 1 if dry_run else workers
        self.progress_every = progress_every
        self._customers: dict[str, str] = {}
        self._catalog: dict[str, Customer] = {}
        self._tax_rates: dict[str, str] = {}
        self._tax_lock = threading.Lock()
        self._summary_lock = threading.Lock()

    # ------------------------------------------------------------------ run
    def check_reconciliation_gate(self) -> dict[str, list[dict[str, Any]]]:
        """Mismatches of the last COMPLETE reconciliation run, by customer. Only those customers' exports are
        blocked (a mismatch naming no customer blocks everything)."""
        mismatches = self.ledger.last_reconciliation_mismatches()
        if not mismatches:
            return {}
        shown = "; ".join(
            f"invoice {m['invoice_id']} (Stripe {m['stripe_invoice_id']}, customer {m['customer_id']}) "
            f"{m['check_name']}: expected {m['expected']}, Stripe has {m['actual']}"
            for m in mismatches[:10]
        )
        more = f" (and {len(mismatches) - 10} more)" if len(mismatches) > 10 else ""
        message = (
            f"the last reconciliation ({mismatches[0]['checked_at']}) found {len(mismatches)} mismatch(es) in "
            f"ledger.stripe_reconciliation: {shown}{more}. Fix them in Stripe or the warehouse and re-run "
            "reconciliation, or override with --ignore-reconciliation (env STRIPE_IGNORE_RECONCILIATION=1)."
        )
        if self.override_reconciliation:
            self.progress("WARNING (override) " + message)
            return {}
        if any(not m["customer_id"] for m in mismatches):
            raise ReconciliationBlocked("Stripe export refused: " + message)
        by_customer: dict[str, list[dict[str, Any]]] = {}
        for m in mismatches:
            by_customer.setdefault(m["customer_id"], []).append(m)
        self.progress(
            f"stripe export: customers {', '.join(sorted(by_customer))} are blocked (other customers go on): "
            + message
        )
        return by_customer

    def run(self) -> RunSummary:
        summary = RunSummary(self.run_id, "dry_run" if self.dry_run else "send")
        started = time.monotonic()
        blocked = self.check_reconciliation_gate()
        invoices, errors, summary.not_exportable = load_invoices(self.con)
        credits, debits, note_errors = load_credit_notes(self.con)
        self._catalog = load_customers(self.con)
        for obj_id, reason in errors:
            self._fail(summary, "invoice", obj_id, reason)
        for obj_id, reason in note_errors:
            self._fail(summary, "credit_note", obj_id, reason)
        done = {e: self.ledger.done_ids(e, "collect") for e in ("invoice", "debit_note")}
        done_cn = self.ledger.done_ids("credit_note", "create_credit_note")
        # per customer, in order: invoices, debit notes, then credit notes (a credit note needs its invoice)
        work: list[tuple[str, Any]] = [("invoice", i) for i in invoices] + [("debit_note", d) for d in debits]
        work += [("credit_note", c) for c in credits]
        by_customer: dict[str, list[tuple[str, Any]]] = {}
        for entity, obj in work:
            obj_id = obj.credit_note_id if entity == "credit_note" else obj.usagebill_id
            if (entity == "credit_note" and obj_id in done_cn) or obj_id in done.get(entity, set()):
                summary.skipped.append(obj_id)
                continue
            if obj.customer_id in blocked:
                first = blocked[obj.customer_id][0]
                summary.blocked.append(
                    (
                        obj_id,
                        f"customer {obj.customer_id} has reconciliation mismatches (e.g. invoice "
                        f"{first['invoice_id']} {first['check_name']}: expected {first['expected']}, Stripe "
                        f"has {first['actual']}); fix and re-run reconciliation",
                    )
                )
                continue
            by_customer.setdefault(obj.customer_id, []).append((entity, obj))
        total = sum(len(v) for v in by_customer.values())

        def emit(line: str) -> None:
            elapsed = max(time.monotonic() - started, 1e-9)
            self.progress(
                f"{line} ({len(summary.sent)} sent, {len(summary.failed)} failed); {self.api.calls} API calls, "
                f"{self.api.calls / elapsed:.1f} calls/s"
            )

        progress = Progress(
            "stripe export", total, emit=emit, every_seconds=self.progress_every, unit="documents"
        )

        def export_customer(items: list[tuple[str, Any]]) -> None:
            for entity, obj in items:
                obj_id = obj.credit_note_id if entity == "credit_note" else obj.usagebill_id
                try:
                    if entity == "credit_note":
                        outcome = self.export_credit_note(obj)
                    else:
                        outcome = self.export_invoice(obj)
                except (stripe.StripeError, ExportError, SourceError, SavedErrorReplay) as e:
                    with self._summary_lock:
                        self._fail(summary, entity, obj_id, _reason(e))
                        progress.advance()
                    continue
                with self._summary_lock:
                    (summary.sent if outcome == "sent" else summary.skipped).append(obj_id)
                    progress.advance()

        groups = list(by_customer.values())
        if self.workers == 1 or len(groups) <= 1:
            for group in groups:
                export_customer(group)
        else:
            try:
                with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="stripe-export") as pool:
                    futures = [pool.submit(export_customer, g) for g in groups]
                    finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
                    failed = [f for f in finished if f.exception() is not None]
                    if failed:  # a crash (or a bug): start no new customer, let running ones end, re-raise
                        for f in futures:
                            f.cancel()
                        wait(futures)
                        raise failed[0].exception()  # type: ignore[misc]
            finally:
                self.ledger.close_cursors()
        summary.api_calls = self.api.calls
        summary.retries = self.api.retries
        summary.rate_limited = getattr(self.api, "rate_limited", 0)
        summary.seconds = time.monotonic() - started
        if total:
            progress.finish()
        if isinstance(self.api, PlannedCallsApi):
            self.api.close()
            summary.planned_calls_file = str(self.api.path)
        return summary

    def _fail(self, summary: RunSummary, entity: str, obj_id: str, reason: str) -> None:
        summary.failed.append((obj_id, reason))
        self.ledger.record(entity, obj_id, "export", "failed", "", detail=reason)
        self.progress(f"stripe export: FAILED {entity} {obj_id}: {reason}")

    # ------------------------------------------------------------------ keyed create with 5xx-replay recovery
    def _create(
        self,
        record: Callable[..., None],
        base_key: str,
        burned: set[str],
        create: Callable[[str], dict[str, Any]],
        lookup: Callable[[], dict[str, Any] | None],
        **kw: Any,
    ) -> dict[str, Any]:
        """Create with the first unburned key generation. When Stripe replays a saved 5xx for the key, burn it,
        look the object up (strongly consistent list where Stripe has one), and only if absent create again
        with the next generation: still exactly once."""
        key = next_key(base_key, burned)
        for _ in range(3):
            record("started", key, **kw)
            try:
                obj = create(key)
            except SavedErrorReplay as e:
                record("key_burned", key, detail=str(e), **kw)
                burned.add(key)
                found = lookup()
                if found is not None:
                    record(
                        "recovered", key, stripe_object_id=found["id"], detail="found after a saved 5xx", **kw
                    )
                    return found
                key = next_key(base_key, burned)
                continue
            record("ok", key, stripe_object_id=obj.get("id"), **kw)
            return obj
        raise ExportError(f"Stripe kept answering 5xx for {base_key} (3 key generations); retry later")

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
        base = idempotency_key("customer", ref, "create")
        query = f"metadata['usagebill_customer_id']:'{_q(customer_id)}'"

        def lookup() -> dict[str, Any] | None:
            # a customer created before tenants existed has no usagebill_tenant_id: it is the default tenant's
            found = [
                c
                for c in self.api.search_customers(query)
                if (c.get("metadata") or {}).get("usagebill_tenant_id", "default") == tenant_id
            ]
            return min(found, key=lambda c: (c["created"], c["id"])) if found else None

        def record(status: str, key: str, **kw: Any) -> None:
            self.ledger.record("customer", ref, "create_customer", status, key, **kw)

        existing = lookup()
        if existing:
            record("recovered", base, stripe_object_id=existing["id"], detail="found by search")
            cus_id = existing["id"]
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
            try:
                cus_id = self._create(
                    record,
                    base,
                    self.ledger.burned_keys("customer", ref),
                    lambda key: self.api.create_customer(params, key),
                    lookup,
                )["id"]
            except stripe.IdempotencyError as e:
                raise ExportError(
                    f"customer {ref}: its details changed since an earlier unacknowledged "
                    f"create with key {base} ({e.user_message}); it will be found by search on the next "
                    "run once Stripe's search index has it"
                ) from e
        self._customers[ref] = cus_id
        return cus_id

    def collection_method_for(self, customer_id: str, tenant_id: str = "default") -> str:
        method = self._catalog.get(
            customer_key(customer_id, tenant_id), Customer(customer_id)
        ).collection_method
        if method and method not in COLLECTION_METHODS:
            raise ExportError(
                f"customer {customer_id}: collection_method {method!r} must be send_invoice or charge_automatically"
            )
        return method or self.collection_method

    # ------------------------------------------------------------------ tax rates
    def ensure_tax_rate(self, rate: TaxRate) -> str:
        """One Stripe TaxRate per (usagebill rate id, percentage, inclusive); percentage is immutable in Stripe."""
        with self._tax_lock:
            if rate.key in self._tax_rates:
                return self._tax_rates[rate.key]
            row = self.ledger.latest_steps("tax_rate", rate.key).get(("create_tax_rate", ""))
            if row and row.status in DONE and row.stripe_object_id:
                self._tax_rates[rate.key] = row.stripe_object_id
                return row.stripe_object_id

            def lookup() -> dict[str, Any] | None:
                for tr in self.api.list_tax_rates():
                    if (tr.get("metadata") or {}).get("usagebill_tax_rate_key") == rate.key:
                        return tr
                return None

            def record(status: str, key: str, **kw: Any) -> None:
                self.ledger.record("tax_rate", rate.key, "create_tax_rate", status, key, **kw)

            burned = self.ledger.burned_keys("tax_rate", rate.key)
            found = lookup() if row else None  # in doubt from an earlier run
            if found:
                record(
                    "recovered",
                    next_key(idempotency_key("tax_rate", rate.key), burned),
                    stripe_object_id=found["id"],
                )
                txr = found["id"]
            else:
                params = {
                    "display_name": rate.display_name or "Tax",
                    "percentage": rate.percentage,
                    "inclusive": rate.inclusive,
                    "metadata": {"usagebill_tax_rate_id": rate.rate_id, "usagebill_tax_rate_key": rate.key},
                }
                txr = self._create(
                    record,
                    idempotency_key("tax_rate", rate.key),
                    burned,
                    lambda key: self.api.create_tax_rate(params, key),
                    lookup,
                )["id"]
            self._tax_rates[rate.key] = txr
            return txr

    # ------------------------------------------------------------------ invoices
    def export_invoice(self, inv: ExportInvoice) -> str:
        steps = self.ledger.latest_steps(inv.entity, inv.usagebill_id)
        col = steps.get(("collect", ""))
        if col and col.status in DONE:
            return "skipped"
        customer = self.ensure_customer(inv.customer_id, inv.tenant_id)
        method = self.collection_method_for(inv.customer_id, inv.tenant_id)
        fin = steps.get(("finalize", ""))
        if fin and fin.status in DONE and fin.stripe_object_id:
            self._collect(inv, fin.stripe_object_id, method)
            return "sent"
        burned = self.ledger.burned_keys(inv.entity, inv.usagebill_id)
        draft_row = steps.get(("create_invoice", ""))
        if (
            draft_row
            and draft_row.status in DONE
            and draft_row.stripe_object_id
            and not self.dry_run
            and self._draft_deleted(inv, draft_row, steps, burned)
        ):
            steps = self.ledger.latest_steps(inv.entity, inv.usagebill_id)
            draft_row = None
        stripe_id, fresh = self._ensure_draft(inv, customer, draft_row, burned, method)
        self._ensure_items(inv, customer, stripe_id, fresh, steps, burned)
        self._apply_credit(inv, customer, steps, burned)
        finalized = self._finalize(inv, stripe_id, method)
        self._collect(inv, stripe_id, method, finalized)
        return "sent"

    def _draft_deleted(
        self, inv: ExportInvoice, row: StepRow, steps: dict[tuple[str, str], StepRow], burned: set[str]
    ) -> bool:
        """The ledger's draft was deleted in Stripe (the advice for a broken draft): burn its create key and its
        items' keys (they would replay the deleted objects) so the export starts a new draft."""
        try:
            self.api.retrieve_invoice(row.stripe_object_id or "")
            return False
        except stripe.InvalidRequestError as e:
            if e.http_status != 404:
                raise
        detail = f"draft {row.stripe_object_id} no longer exists in Stripe (deleted); a new draft is created"
        self._record(inv, "create_invoice", "key_burned", row.idempotency_key, detail=detail)
        burned.add(row.idempotency_key)
        for (step, line_key), r in steps.items():
            if step == "add_item" and r.idempotency_key not in burned:
                self._record(
                    inv, "add_item", "key_burned", r.idempotency_key, line_key=line_key, detail=detail
                )
                burned.add(r.idempotency_key)
        self.progress(f"stripe export: {inv.entity} {inv.usagebill_id}: {detail}")
        return True

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

    def _find_invoice(self, inv: ExportInvoice, customer: str, consistent: bool) -> dict[str, Any] | None:
        """Non-void Stripe invoices carrying our metadata: search (eventually consistent) or, after a saved 5xx,
        the customer's invoice list (strongly consistent)."""
        if consistent:
            candidates = self.api.list_invoices({"customer": customer})
            found = [
                i
                for i in candidates
                if (i.get("metadata") or {}).get("usagebill_invoice_id") == inv.usagebill_id
                and i["status"] != "void"
            ]
        else:
            query = f"metadata['usagebill_invoice_id']:'{_q(inv.usagebill_id)}'"
            found = [i for i in self.api.search_invoices(query) if i["status"] != "void"]
        if len(found) > 1:
            raise ExportError(
                f"{inv.entity} {inv.usagebill_id}: {len(found)} Stripe invoices carry its metadata "
                f"({', '.join(i['id'] for i in found)}); void the extra ones in Stripe, then re-run"
            )
        return found[0] if found else None

    def _ensure_draft(
        self,
        inv: ExportInvoice,
        customer: str,
        row: StepRow | None,
        burned: set[str],
        method: str,
    ) -> tuple[str, bool]:
        if row and row.status in DONE and row.stripe_object_id:
            return row.stripe_object_id, False
        base = idempotency_key(inv.usagebill_id, "create_invoice")
        found = self._find_invoice(inv, customer, consistent=False)
        if found:
            self._record(
                inv,
                "create_invoice",
                "recovered",
                next_key(base, burned),
                stripe_object_id=found["id"],
                detail="found by metadata search",
            )
            return found["id"], False
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
            "collection_method": method,
            "description": f"{'Debit note' if inv.entity == 'debit_note' else 'Invoice'} {inv.number}",
            "metadata": metadata,
        }
        if method == "send_invoice":
            # the invoice's own due date as a date (00:00 UTC of due_date), never "now + n days"
            due = inv.due_date or inv.issue_date
            if due is None:
                raise ExportError(
                    f"{inv.entity} {inv.usagebill_id}: send_invoice needs a due_date (or issue_date)"
                )
            params["due_date"] = _ts(due)

        def record(status: str, key: str, **kw: Any) -> None:
            self._record(inv, "create_invoice", status, key, **kw)

        created = self._create(
            record,
            base,
            burned,
            lambda key: self.api.create_invoice(params, key),
            lambda: self._find_invoice(inv, customer, consistent=True),
        )
        return created["id"], not (created.get("lines") or {}).get("data")

    def _ensure_items(
        self,
        inv: ExportInvoice,
        customer: str,
        stripe_id: str,
        fresh: bool,
        steps: dict[tuple[str, str], StepRow],
        burned: set[str],
    ) -> None:
        pending = [
            it
            for it in inv.items
            if not (steps.get(("add_item", it.line_key)) and steps[("add_item", it.line_key)].status in DONE)
        ]
        if not pending:
            return
        existing: dict[str, dict[str, Any]] = {}

        def load_existing() -> None:
            existing.clear()
            for ii in self.api.list_invoice_items(stripe_id):
                line_key = (ii.get("metadata") or {}).get("usagebill_line_key")
                if line_key:
                    existing[line_key] = ii

        if not fresh:  # the draft existed before this run: some items may be attached but not in the ledger
            load_existing()
        for it in pending:
            base = idempotency_key(inv.usagebill_id, "item", it.line_key)
            if it.line_key in existing:
                ii = existing[it.line_key]
                if ii["amount"] != it.amount_minor:
                    raise ExportError(
                        f"{inv.entity} {inv.usagebill_id}: Stripe item {ii['id']} ({it.line_key}) has "
                        f"amount {ii['amount']}, expected {it.amount_minor}; delete the draft "
                        f"{stripe_id} in Stripe and re-run (a new draft is created)"
                    )
                self._record(
                    inv,
                    "add_item",
                    "recovered",
                    next_key(base, burned),
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
            if it.tax_rate is not None:
                params["tax_rates"] = [self.ensure_tax_rate(it.tax_rate)]
            if it.period_start and it.period_end:
                params["period"] = {"start": _ts(it.period_start), "end": _ts(it.period_end)}

            def record(status: str, key: str, it=it, **kw: Any) -> None:
                self._record(
                    inv, "add_item", status, key, line_key=it.line_key, amount_minor=it.amount_minor, **kw
                )

            def lookup(it=it) -> dict[str, Any] | None:
                load_existing()
                return existing.get(it.line_key)

            self._create(
                record, base, burned, lambda key, p=params: self.api.create_invoice_item(p, key), lookup
            )

    def _apply_credit(
        self, inv: ExportInvoice, customer: str, steps: dict[tuple[str, str], StepRow], burned: set[str]
    ) -> None:
        """usagebill credits are applied after tax: a customer balance credit that Stripe applies to the
        invoice's total at finalization (amount_due = total + starting_balance), so they never reduce the taxable
        amount (https://docs.stripe.com/billing/customer/balance)."""
        if not inv.credits_minor:
            return
        row = steps.get(("apply_credit", ""))
        if row and row.status in DONE:
            return
        base = idempotency_key(inv.usagebill_id, "credit_balance")

        def lookup() -> dict[str, Any] | None:
            for tx in self.api.list_balance_transactions(customer):
                if (tx.get("metadata") or {}).get("usagebill_invoice_id") == inv.usagebill_id:
                    return tx
            return None

        def record(status: str, key: str, **kw: Any) -> None:
            self._record(inv, "apply_credit", status, key, amount_minor=inv.credits_minor, **kw)

        found = lookup() if row else None  # in doubt from an earlier run
        if found:
            record("recovered", next_key(base, burned), stripe_object_id=found["id"])
            return
        params = {
            "amount": -inv.credits_minor,
            "currency": inv.currency.lower(),
            "description": f"usagebill credits applied to invoice {inv.number}",
            "metadata": {"usagebill_invoice_id": inv.usagebill_id, "usagebill_kind": "credits_applied"},
        }
        self._create(
            record,
            base,
            burned,
            lambda key: self.api.create_balance_transaction(customer, params, key),
            lookup,
        )

    def _finalize(self, inv: ExportInvoice, stripe_id: str, method: str) -> dict[str, Any] | None:
        """Finalize; returns the invoice as Stripe answered (the collect step starts from it)."""
        key = idempotency_key(inv.usagebill_id, "finalize")
        auto_advance = method == "charge_automatically"  # Stripe retries failed payments (Smart Retries)
        if self.dry_run:
            self.api.finalize_invoice(stripe_id, key, auto_advance)
            return None
        current = self.api.retrieve_invoice(stripe_id)
        want_tax = sum(it.tax_minor for it in inv.items)
        have_tax = sum(int(t.get("amount") or 0) for t in current.get("total_taxes") or [])
        if current["total"] != inv.total_minor or have_tax != want_tax:
            raise ExportError(
                f"{inv.entity} {inv.usagebill_id}: Stripe invoice {stripe_id} ({current['status']}) "
                f"totals {current['total']} with tax {have_tax} in Stripe units, expected {inv.total_minor} with "
                f"tax {want_tax} {inv.currency}; not finalized: inspect the draft in Stripe (delete it to "
                "re-export: the next run creates a new draft)"
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
            return current
        self._record(
            inv, "finalize", "started", key, stripe_object_id=stripe_id, amount_minor=inv.total_minor
        )
        try:
            done = self.api.finalize_invoice(stripe_id, key, auto_advance)
        except SavedErrorReplay:
            # finalize is an action on one object: its state tells whether it happened
            self._record(inv, "finalize", "key_burned", key, stripe_object_id=stripe_id)
            done = self.api.retrieve_invoice(stripe_id)
            if done["status"] == "draft":
                done = self.api.finalize_invoice(stripe_id, key + ":g2", auto_advance)
        self._record(
            inv,
            "finalize",
            "ok",
            key,
            stripe_object_id=stripe_id,
            amount_minor=inv.total_minor,
            detail=f"number {done.get('number')}",
        )
        return done

    def _collect(
        self, inv: ExportInvoice, stripe_id: str, method: str, current: dict[str, Any] | None = None
    ) -> None:
        """Send (send_invoice) or charge (charge_automatically) the finalized invoice. An invoice Stripe already
        marked paid, e.g. below the minimum charge amount (then carried to the customer balance), is recorded."""
        key = idempotency_key(inv.usagebill_id, "collect")
        if self.dry_run:
            return
        if current is None:  # resumed after a crash: ask Stripe
            current = self.api.retrieve_invoice(stripe_id)
        due = int(current.get("amount_due") or 0)
        if current["status"] != "open":
            carried = due - int(current.get("amount_paid") or 0) if current["status"] == "paid" else 0
            detail = f"Stripe status {current['status']} at collection"
            if carried > 0 and below_minimum(due, inv.currency):
                minimum = stripe_currency(inv.currency).minimum_charge_minor or 0
                detail = (
                    f"below_minimum: amount due {from_stripe_amount(due, inv.currency)} {inv.currency} is below "
                    f"Stripe's minimum charge {from_stripe_amount(minimum, inv.currency)}; Stripe marked it paid "
                    f"and carried {from_stripe_amount(carried, inv.currency)} to the customer balance (next invoice)"
                )
            self._record(
                inv,
                "collect",
                "recovered",
                key,
                stripe_object_id=stripe_id,
                amount_minor=carried,
                detail=detail,
            )
            return
        self._record(inv, "collect", "started", key, stripe_object_id=stripe_id, amount_minor=due)
        try:
            if method == "send_invoice":
                self.api.send_invoice(stripe_id, key)
                detail = "sent"
            else:
                paid = self.api.pay_invoice(stripe_id, {}, key)
                detail = f"charged: {paid.get('status')}"
        except stripe.CardError as e:
            # a declined charge is a payment outcome, not an export failure: dunning (Stripe's retries with
            # auto_advance, payments.fct_dunning) takes it from here
            detail = f"payment failed: {e.code}; Stripe retries it (auto_advance)"
        except SavedErrorReplay as e:
            self._record(inv, "collect", "key_burned", key, stripe_object_id=stripe_id, detail=str(e))
            raise ExportError(
                f"{inv.entity} {inv.usagebill_id}: Stripe saved a 5xx for collecting {stripe_id}; it stays open "
                "and the next run collects it with a new key"
            ) from e
        self._record(inv, "collect", "ok", key, stripe_object_id=stripe_id, amount_minor=due, detail=detail)

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

        def lookup() -> dict[str, Any] | None:
            for existing in self.api.list_credit_notes(stripe_invoice):
                if (existing.get("metadata") or {}).get("usagebill_credit_note_id") == cn.credit_note_id:
                    return existing
            return None

        if not self.dry_run:
            found = lookup()
            if found:
                record("recovered", stripe_object_id=found["id"], detail="found on the invoice")
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
        try:
            self._create(
                lambda status, k, **kw: self.ledger.record(
                    "credit_note",
                    cn.credit_note_id,
                    "create_credit_note",
                    status,
                    k,
                    invoice_id=cn.original_invoice_id,
                    amount_minor=cn.total_minor,
                    currency=cn.currency,
                    **kw,
                ),
                key,
                self.ledger.burned_keys("credit_note", cn.credit_note_id),
                lambda k: self.api.create_credit_note(params, k),
                lookup,
            )
        except stripe.IdempotencyError as e:
            raise ExportError(
                f"credit note {cn.credit_note_id}: key {key} was used with other parameters and the "
                f"credit note is not on invoice {stripe_invoice}: {e.user_message}"
            ) from e
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
            api = StripeApi(
                make_client(settings), policy=retry, hook=hook, rate_limit=settings.requests_per_second
            )
        exporter = StripeExporter(
            con,
            api,
            dry_run=settings.mode == DRY_RUN,
            override_reconciliation=override_reconciliation,
            collection_method=os.environ.get("STRIPE_COLLECTION_METHOD", "send_invoice"),
            paid_credit_method=os.environ.get("STRIPE_PAID_CREDIT_METHOD", "credit_amount"),
            progress=progress,
            workers=settings.workers,
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
