"""Read what to export from the warehouse marts and check it against the money rules before any call.

Inputs: billing.fct_invoices, billing.fct_invoice_lines, billing.fct_credit_notes (optional),
staging.stg_catalog__customers (optional: name/email/country for the Stripe customer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb

from exports.stripe.currencies import StripeCurrencyError, check_chargeable, stripe_currency, to_stripe_amount
from usagebill.engine import table_exists
from usagebill.money import minor_unit, round_money, to_minor_units

# Statuses of billing.fct_invoices that are final and may go to Stripe (override: STRIPE_EXPORT_STATUSES).
DEFAULT_EXPORT_STATUSES = ("issued",)


class SourceError(ValueError):
    """An invoice breaks a money rule; it is reported as failed (naming invoice and field), never sent."""


DEFAULT_TENANT = "default"


def customer_key(customer_id: str, tenant_id: str = DEFAULT_TENANT) -> str:
    """The exporter's identity of a customer, (tenant_id, customer_id) as one string: the customer id
    for the default tenant (the key used before tenants existed), else ``tenant/customer_id`` (a
    catalog id never contains '/'). Used for the ledger rows and the idempotency key of the customer."""
    return customer_id if tenant_id == DEFAULT_TENANT else f"{tenant_id}/{customer_id}"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str | None = None
    email: str | None = None
    country: str | None = None
    collection_method: str | None = None  # optional catalog column; None = STRIPE_COLLECTION_METHOD
    tenant_id: str = DEFAULT_TENANT


@dataclass(frozen=True)
class TaxRate:
    """A usagebill tax rate as a Stripe TaxRate (percentage = rate x 100, exact decimal text)."""

    rate_id: str
    percentage: str
    inclusive: bool
    display_name: str

    @property
    def key(self) -> str:
        return f"{self.rate_id}:{self.percentage}:{'incl' if self.inclusive else 'excl'}"


@dataclass(frozen=True)
class Item:
    line_key: str  # line:<line_number> | note:<credit_note_id>
    description: str
    amount_minor: (
        int  # Stripe units (docs: exports/stripe/currencies.py); tax excluded unless the rate is inclusive
    )
    period_start: date | None = None
    period_end: date | None = None  # exclusive (half-open)
    metadata: dict[str, str] = field(default_factory=dict)
    tax_rate: TaxRate | None = None
    tax_minor: int = 0  # the line's tax as usagebill computed it (Stripe units); Stripe must compute the same


@dataclass(frozen=True)
class ExportInvoice:
    entity: str  # invoice | debit_note
    usagebill_id: str
    number: str
    customer_id: str
    currency: str  # ISO upper case
    issue_date: date | None
    due_date: date | None
    total_minor: int  # Stripe units
    items: tuple[Item, ...]
    original_invoice_id: str | None = None
    amount_due_minor: int | None = None  # Stripe units; total - credits applied (None: = total)
    credits_minor: int = 0  # Stripe units; usagebill credits applied after tax (customer balance credit)
    tenant_id: str = DEFAULT_TENANT

    @property
    def due_minor(self) -> int:
        return self.total_minor if self.amount_due_minor is None else self.amount_due_minor


@dataclass(frozen=True)
class ExportCreditNote:
    credit_note_id: str
    number: str
    original_invoice_id: str
    customer_id: str
    currency: str
    total_minor: int  # |amount| (tax included), in Stripe units
    reason: str | None
    tenant_id: str = DEFAULT_TENANT


def export_statuses() -> tuple[str, ...]:
    raw = os.environ.get("STRIPE_EXPORT_STATUSES")
    return tuple(s.strip() for s in raw.split(",") if s.strip()) if raw else DEFAULT_EXPORT_STATUSES


def _minor(amount: Decimal | None, currency: str, where: str) -> int:
    if amount is None:
        return 0
    rounded = round_money(Decimal(amount), currency)
    if rounded != Decimal(amount):
        raise SourceError(
            f"{where} = {amount} {currency} is not rounded to the minor unit "
            f"({minor_unit(currency)} decimals): fix the billing mart, the exporter never rounds"
        )
    return to_minor_units(rounded, currency)


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }


def _tenant_column(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """`tenant_id`, or the default tenant for a warehouse built before tenants existed."""
    rows = con.execute(
        "select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
        "and column_name = 'tenant_id'",
        [schema, table],
    ).fetchall()
    return "tenant_id" if rows[0][0] else f"'{DEFAULT_TENANT}'"


def load_customers(con: duckdb.DuckDBPyConnection) -> dict[str, Customer]:
    """Catalog customers by customer_key(customer_id, tenant_id)."""
    if not table_exists(con, "staging", "stg_catalog__customers"):
        return {}
    cols = _columns(con, "staging", "stg_catalog__customers")
    method = "collection_method" if "collection_method" in cols else "cast(null as varchar)"
    tenant = _tenant_column(con, "staging", "stg_catalog__customers")
    rows = con.execute(
        f"select customer_id, name, email, country, {method}, {tenant} from staging.stg_catalog__customers"
    ).fetchall()
    return {customer_key(r[0], r[5]): Customer(*r) for r in rows}


def channel_filter(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """SQL (select-list expression, source description) giving each fct_invoices row's billing channel.

    billing.fct_invoices.billing_channel (marketplace helper, per subscription) when the column exists;
    otherwise derived defensively: a customer with any marketplace identity (staging.stg_marketplace__identities)
    is billed through that marketplace, never through Stripe."""
    if "billing_channel" in _columns(con, "billing", "fct_invoices"):
        return "billing_channel", "billing.fct_invoices.billing_channel"
    if table_exists(con, "staging", "stg_marketplace__identities"):
        return (
            "coalesce((select min(m.marketplace) from staging.stg_marketplace__identities m "
            "where m.customer_id = fct_invoices.customer_id), 'stripe')",
            "derived from staging.stg_marketplace__identities (no billing_channel column yet)",
        )
    return "'stripe'", "no billing_channel column and no marketplace identities: every invoice is stripe"


def load_invoices(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[ExportInvoice], list[tuple[str, str]], dict[str, int]]:
    """Issued invoices with their items. Returns (invoices, [(invoice_id, error)], {other status: count})."""
    if not table_exists(con, "billing", "fct_invoices"):
        raise SourceError(
            "billing.fct_invoices does not exist in the warehouse: build the billing marts first "
            "(dbt build --select marts.billing)"
        )
    statuses = export_statuses()
    channel, _ = channel_filter(con)
    marks = ",".join("?" * len(statuses))
    skipped = dict(
        con.execute(
            f"""
            select case when status is null or status not in ({marks}) then coalesce(status, 'null')
                        else 'channel ' || coalesce(channel, 'unknown') end, count(*)
            from (select status, {channel} as channel from billing.fct_invoices) as s
            where status is null or status not in ({marks}) or channel is null or channel <> 'stripe'
            group by 1
            """,
            list(statuses) * 2,
        ).fetchall()
    )
    head_cols = _columns(con, "billing", "fct_invoices")
    tenant = _tenant_column(con, "billing", "fct_invoices")
    due = "amount_due_minor" if "amount_due_minor" in head_cols else "cast(null as bigint)"
    credits = "credits_applied_minor" if "credits_applied_minor" in head_cols else "cast(0 as bigint)"
    heads = con.execute(
        f"""
        select invoice_id, invoice_number, customer_id, upper(currency), issue_date, due_date, total, total_minor,
               {due}, {credits}, {tenant} as tenant_id
        from billing.fct_invoices
        where status in ({marks}) and {channel} = 'stripe'
        order by issue_date, invoice_id
        """,
        list(statuses),
    ).fetchall()
    by_invoice = _lines_by_document(con, "fct_invoice_lines", "invoice_id", "invoice_line_id")
    invoices, errors = [], []
    for head in heads:
        # head: invoice_id .. total_minor (the invoice), then amount_due_minor, credits_applied_minor,
        # tenant_id: _build_invoice's arguments, with the invoice's lines in between
        inv_id = head[0]
        try:
            invoices.append(_build_invoice(*head[:8], by_invoice.get(inv_id, []), *head[8:]))
        except (SourceError, ValueError) as e:
            errors.append((inv_id, str(e)))
    return invoices, errors, skipped


def _lines_by_document(
    con: duckdb.DuckDBPyConnection, table: str, document_col: str, line_id_col: str
) -> dict[str, list[tuple]]:
    """The priced lines of billing.<table> by document id, in the column order `_build_invoice` reads.

    Prepaid credits applied (line_type credit_applied) are not Stripe items: they are applied after tax as a
    customer balance credit (the document's credits_applied), as fct_invoice_lines already leaves them out.
    Optional columns (older warehouses, credit/debit note lines) read as null: with no is_tax_inclusive the
    line is inclusive when its net differs from its amount; with no tax_name the rate's id names it.
    """
    cols = _columns(con, "billing", table)

    def col(name: str, missing: str) -> str:
        return name if name in cols else f"{missing} as {name}"

    # With an inclusive rate `amount` includes the tax (net = amount - tax); with an exclusive one it is the net.
    # Either way the Stripe item carries `amount` and a TaxRate of the same kind, so Stripe shows the tax as tax.
    rows = con.execute(
        f"""
        select {document_col}, {line_id_col}, line_number, charge_id, line_type, description, quantity,
               unit_price, amount, amount_minor, {"net_amount" if "net_amount" in cols else "amount as net_amount"},
               {col("tax_rate_id", "cast(null as varchar)")}, {col("tax_amount", "cast(0 as decimal(38, 12))")},
               period_start, period_end, {col("tax_rate", "cast(null as decimal(38, 12))")},
               {col("is_tax_inclusive", "cast(null as boolean)")}, {col("tax_name", "cast(null as varchar)")}
        from billing.{table}
        where line_type is null or line_type <> 'credit_applied'
        order by {document_col}, line_number
        """
    ).fetchall()
    by_document: dict[str, list[tuple]] = {}
    for row in rows:
        by_document.setdefault(row[0], []).append(row)
    return by_document


def _build_invoice(
    inv_id: str,
    number: str,
    customer_id: str,
    currency: str,
    issue_date: object,
    due_date: object,
    total: Decimal,
    total_minor: int,
    lines: list[tuple],
    amount_due_minor: int | None = None,
    credits_minor: int | None = 0,
    tenant_id: str = DEFAULT_TENANT,
    entity: str = "invoice",
    original_invoice_id: str | None = None,
) -> ExportInvoice:
    """Checks the ISO figures of the books, then converts every amount to Stripe units (ISK x100).

    A debit note (entity "debit_note") becomes a Stripe invoice of its own lines, each with its TaxRate, so
    Stripe shows a debit note's tax as tax, exactly as an invoice's."""
    where = f"{entity.replace('_', ' ')} {inv_id} ({number})"
    id_key = "usagebill_debit_note_id" if entity == "debit_note" else "usagebill_invoice_id"
    try:
        stripe_currency(currency)
    except StripeCurrencyError as e:
        raise SourceError(f"{where}: {e}") from None
    if _minor(total, currency, f"{where}: total") != total_minor:
        raise SourceError(f"{where}: total {total} {currency} != total_minor {total_minor}")
    items: list[Item] = []
    line_sum = tax_sum = 0
    for (
        _,
        line_id,
        line_number,
        charge_id,
        line_type,
        description,
        quantity,
        unit_price,
        amount,
        amount_minor,
        net_amount,
        tax_rate_id,
        tax_amount,
        period_start,
        period_end,
        tax_rate,
        is_inclusive,
        tax_name,
    ) in lines:
        if _minor(amount, currency, f"{where} line {line_number}: amount") != amount_minor:
            raise SourceError(f"{where} line {line_number}: amount {amount} != amount_minor {amount_minor}")
        tax_iso = _minor(tax_amount, currency, f"{where} line {line_number}: tax_amount")
        net_iso = _minor(net_amount, currency, f"{where} line {line_number}: net_amount")
        inclusive = bool(is_inclusive) if is_inclusive is not None else (net_iso != amount_minor)
        rate: TaxRate | None = None
        if tax_iso:
            if tax_rate is None:
                raise SourceError(
                    f"{where} line {line_number}: tax_amount {tax_amount} {currency} without a tax_rate: "
                    "Stripe needs the rate to show the tax as tax; add tax_rate to billing.fct_invoice_lines"
                )
            pct = format((Decimal(tax_rate) * 100).normalize(), "f")
            rid = str(tax_rate_id or "tax")
            rate = TaxRate(rid, pct, inclusive, str(tax_name or rid)[:50])
        label = description or charge_id or line_type or f"line {line_number}"
        if quantity is not None and unit_price is not None:
            label = f"{label} ({_plain(quantity)} x {_plain(unit_price)} {currency})"
        # exclusive rate: amount == net (tax added by Stripe); inclusive: amount == gross (tax inside)
        item_iso = int(amount_minor) if rate else net_iso
        line_sum += item_iso
        tax_sum += tax_iso if (rate and not rate.inclusive) else 0
        items.append(
            Item(
                line_key=f"line:{line_number}",
                description=label[:500],
                amount_minor=to_stripe_amount(item_iso, currency),
                period_start=_as_date(period_start),
                period_end=_as_date(period_end),
                metadata={
                    id_key: inv_id,
                    "usagebill_invoice_line_id": str(line_id),
                    "usagebill_line_key": f"line:{line_number}",
                    "usagebill_charge_id": str(charge_id or ""),
                    "usagebill_quantity": _plain(quantity),
                    "usagebill_unit_price": _plain(unit_price),
                },
                tax_rate=rate,
                tax_minor=to_stripe_amount(tax_iso, currency),
            )
        )
    if len(items) > 250:
        raise SourceError(
            f"{where}: {len(items)} items exceed Stripe's 250 invoice items per invoice; "
            "split the invoice or aggregate its lines"
        )
    if not items:
        table = "fct_credit_note_lines" if entity == "debit_note" else "fct_invoice_lines"
        raise SourceError(f"{where}: has no lines in billing.{table}")
    if line_sum + tax_sum != total_minor:
        raise SourceError(
            f"{where}: lines + exclusive tax = {line_sum + tax_sum} minor units but total_minor = "
            f"{total_minor}; the invoice total must be the sum of its rounded lines and taxes"
        )
    credits_iso = int(credits_minor or 0)
    due_iso = int(total_minor) - credits_iso if amount_due_minor is None else int(amount_due_minor)
    if due_iso != int(total_minor) - credits_iso or credits_iso < 0:
        raise SourceError(
            f"{where}: amount_due_minor {due_iso} != total_minor {total_minor} - credits_applied_minor "
            f"{credits_iso} (credits are applied after tax and never negative)"
        )
    due_stripe = to_stripe_amount(due_iso, currency)
    try:
        check_chargeable(due_stripe, currency, where)
    except StripeCurrencyError as e:
        raise SourceError(str(e)) from None
    return ExportInvoice(
        entity,
        inv_id,
        number,
        customer_id,
        currency,
        _as_date(issue_date),
        _as_date(due_date),
        to_stripe_amount(int(total_minor), currency),
        tuple(items),
        original_invoice_id,
        amount_due_minor=due_stripe,
        credits_minor=to_stripe_amount(credits_iso, currency),
        tenant_id=tenant_id,
    )


def _plain(value: object) -> str:
    if value is None:
        return ""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(d.normalize(), "f")


def load_credit_notes(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[ExportCreditNote], list[ExportInvoice], list[tuple[str, str]]]:
    """Credit notes (to Stripe credit notes) and debit notes (to new Stripe invoices)."""
    if not table_exists(con, "billing", "fct_credit_notes"):
        return [], [], []
    tenant = _tenant_column(con, "billing", "fct_credit_notes")
    cols = _columns(con, "billing", "fct_credit_notes")
    credits_minor = "credits_applied_minor" if "credits_applied_minor" in cols else "cast(0 as bigint)"
    rows = con.execute(
        f"""
        select credit_note_id, credit_note_number, kind, original_invoice_id, customer_id, upper(currency),
               reason, amount, amount_minor, issue_date, {tenant} as tenant_id, {credits_minor} as credits_applied_minor
        from billing.fct_credit_notes order by issue_date, credit_note_id
        """
    ).fetchall()
    note_lines = (
        _lines_by_document(con, "fct_credit_note_lines", "credit_note_id", "credit_note_line_id")
        if table_exists(con, "billing", "fct_credit_note_lines")
        else {}
    )
    credits, debits, errors = [], [], []
    for (
        note_id,
        number,
        kind,
        original,
        customer_id,
        currency,
        reason,
        amount,
        amount_minor,
        issue_date,
        tenant_id,
        note_credits_minor,
    ) in rows:
        where = f"credit note {note_id} ({number})"
        try:
            if _minor(amount, currency, f"{where}: amount") != amount_minor:
                raise SourceError(f"{where}: amount {amount} != amount_minor {amount_minor}")
            # fct_credit_notes.amount is signed (credit < 0, debit > 0) and includes the tax
            stripe_currency(currency)
            total = to_stripe_amount(abs(int(amount_minor)), currency)
            if kind == "credit":
                credits.append(
                    ExportCreditNote(
                        note_id, number, original, customer_id, currency, total, reason, tenant_id
                    )
                )
            elif kind == "debit":
                debits.append(
                    _build_invoice(
                        note_id,
                        number,
                        customer_id,
                        currency,
                        issue_date,
                        None,
                        amount,
                        amount_minor,
                        note_lines.get(note_id, []),
                        None,
                        note_credits_minor,
                        tenant_id=tenant_id,
                        entity="debit_note",
                        original_invoice_id=original,
                    )
                )
            else:
                raise SourceError(f"{where}: kind must be credit or debit, got {kind!r}")
        except (SourceError, StripeCurrencyError, ValueError) as e:
            errors.append((note_id, str(e)))
    return credits, debits, errors
